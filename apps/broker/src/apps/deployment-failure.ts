/**
 * What a failed deployment's error says to someone who did not push it (a visitor at the app's URL, a teammate reading
 * `apps show`): its first line, without the gear's output, which is for the owner's eyes (logs, the push).
 */
export function failureHeadline(error: string | null | undefined, max = 300): string {
  return (error || 'it failed')
    .split('\n')[0]
    .replace(/; it printed:?.*$/, '')
    .slice(0, max);
}
