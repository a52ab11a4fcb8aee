/**
 * What a failed deployment's error says to someone who did not push it (a visitor at the app's URL, a teammate reading
 * `apps show`): its first line, without what is for the owner's eyes alone. The gear's output goes (`; it printed:
 * …`); a build's failure is said in a few words, as its message names the platform's registry, the release image and
 * the command the build ran with its environment; and any other image reference of the platform's registry
 * (host:port/path) is left out.
 */
export function failureHeadline(error: string | null | undefined, max = 300): string {
  const first = (error || 'it failed').split('\n')[0].replace(/; it printed:?.*$/, '');
  if (/\bbuilding \S+ (failed|took longer)/.test(first) || /returned a non-zero code/.test(first)) {
    const service = /\bservice ([\w.-]+)/.exec(first)?.[1];
    return `${service ? `the build of service ${service}` : 'its build'} failed (its owner sees why in the push output and in the app's deployments)`;
  }
  return first.replace(/\b[\w.-]+:\d+\/[\w./-]+(?::[\w.-]+)?/g, 'the release image').slice(0, max);
}
