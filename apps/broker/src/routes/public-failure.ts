/**
 * What the page at an app's URL says of the deployment that failed before it ever served: the first line of the
 * failure, without what is for the owner's eyes alone. The gear's output goes (`; it printed: …`); a build's failure
 * is said in a few words, as its message names the platform's registry, the release image and the command the build
 * ran with its environment; and any other image reference of the platform's registry (host:port/path) is left out.
 */
export function publicFailure(error: string | null | undefined): string {
  const first = (error ?? 'it failed').split('\n')[0].replace(/; it printed:?.*$/, '');
  if (/^building \S+ (failed|took longer)/.test(first) || /returned a non-zero code/.test(first)) {
    return "its build failed (its owner sees why in the push output and in the app's deployments)";
  }
  return first.replace(/\b[\w.-]+:\d+\/[\w./-]+(?::[\w.-]+)?/g, 'the release image').slice(0, 300);
}
