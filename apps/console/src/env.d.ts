// Stylesheets are imported for their effect: Vite bundles them into the page's hashed CSS file.
declare module '*.css';
