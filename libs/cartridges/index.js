// The compiled library lives with the rest of the build output; this forwards to it.
module.exports = require('../../dist/libs/cartridges/src/index.js');
