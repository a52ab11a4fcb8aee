import { after } from 'node:test';

/**
 * Loaded into every test file's process (scripts/test.sh, --require): once the file's tests are done, a process
 * that something still holds open (a connection a test left) exits a few seconds later, with the verdict it has.
 * Node's own --test-force-exit exits at once, before the reporter has written what it holds, and the run then
 * reports fewer tests than ran, still passing (nodejs/node#64833); a file's last failures could be lost with them.
 * The timer holds nothing open itself: a process with nothing left exits as soon as it is done.
 */
// Only in a file's own process (the runner marks them): in the runner itself, a hook would make a test run of its own.
if (process.env.NODE_TEST_CONTEXT) {
  after(() => {
    setTimeout(() => process.exit(), 3000).unref();
  });
}
