import { CronExpressionParser } from 'cron-parser';
import type { FromSchema } from 'json-schema-to-ts';
import { SERVICE_NAME } from './services';
import type { Violation } from './validation';

/**
 * `cron:` in gearshift.yml: commands run on a schedule, each as a one-off container of the app's current release
 * with the environment of a process type's gears (web unless named), or in a named service's image with that
 * service's environment.
 */
export const cronSchema = {
  type: 'array',
  maxItems: 50,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['schedule', 'command'],
    properties: {
      /** Five cron fields (minute hour day month weekday), or six with seconds first; `@hourly` and the like. */
      schedule: { type: 'string', minLength: 1, maxLength: 200 },
      /** A shell command line, run with `sh -c`. */
      command: { type: 'string', minLength: 1, maxLength: 4096 },
      process: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,30}$' },
      /** A service of the same gearshift.yml: the command runs in its image, with its environment. */
      service: { type: 'string', pattern: SERVICE_NAME },
    },
  },
} as const;

export type CronEntry = FromSchema<(typeof cronSchema)['items']>;

/** Schedules run in UTC, whatever the broker's own time zone: the same entry means the same times on every broker. */
const TZ = 'UTC';

/** The macros cron takes for a schedule; anything else after an `@` (`@every 1s`) is not cron. */
export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly', '@minutely', '@weekdays', '@weekends'];

/** The least time between two runs of an entry, by default: cron's own granularity, the minute. */
export const CRON_MIN_INTERVAL_S = 60;

/**
 * Why a schedule cannot be used, or null. Strict about what cron itself would refuse (values out of range, wrong
 * number of fields, a macro it does not know), about schedules that never come, and about schedules that would run
 * an entry more often than every `minIntervalS` seconds (by default a minute, cron's own granularity: the seconds
 * field may pin the second within the minute, not run an entry every second).
 */
export function scheduleProblem(schedule: string, minIntervalS = CRON_MIN_INTERVAL_S): string | null {
  const text = schedule.trim();
  if (text.startsWith('@') && !CRON_MACROS.includes(text)) {
    return `is not a cron schedule: cron knows the macros ${CRON_MACROS.join(', ')}; for another interval write the fields, such as "*/5 * * * *" for every five minutes`;
  }
  let expression;
  try {
    expression = CronExpressionParser.parse(text, { tz: TZ, currentDate: new Date() });
  } catch (err) {
    return `is not a cron schedule: ${(err as Error).message}`;
  }
  const fields = text.split(/\s+/).length;
  if (!text.startsWith('@') && fields !== 5 && fields !== 6) {
    return `is not a cron schedule: it has ${fields} fields, where cron takes 5 (minute hour day month weekday) or 6 (seconds first)`;
  }
  if (!expression.hasNext()) return 'never comes';
  const gap = shortestGapS(text);
  if (gap !== null && gap < minIntervalS) {
    const least = minIntervalS === CRON_MIN_INTERVAL_S ? 'once a minute' : `once every ${minIntervalS} s`;
    return `runs an entry ${gap} s after the one before, and an entry runs at most ${least} (cron's own granularity is the minute; the seconds field may only pin the second within it)`;
  }
  return null;
}

/** The shortest time between two of the schedule's next runs (a day of them at most), in seconds. */
function shortestGapS(schedule: string): number | null {
  const expression = CronExpressionParser.parse(schedule, { tz: TZ, currentDate: new Date('2026-01-05T00:00:00Z') });
  let shortest: number | null = null;
  let before = expression.next().getTime();
  for (let i = 0; i < 120 && expression.hasNext(); i++) {
    const at = expression.next().getTime();
    const gap = Math.round((at - before) / 1000);
    shortest = shortest === null ? gap : Math.min(shortest, gap);
    before = at;
  }
  return shortest;
}

/**
 * What cannot be used in each entry, by its JSON pointer: a schedule cron cannot read (`/cron/0/schedule`), a service
 * the file does not name (`/cron/0/service`), or both a service and a process type to run in.
 */
export function cronViolations(entries: readonly CronEntry[] | undefined, services: readonly string[] = [], minIntervalS = CRON_MIN_INTERVAL_S): Violation[] {
  return (entries ?? []).flatMap((e, i) => {
    const out: Violation[] = [];
    const problem = scheduleProblem(e.schedule, minIntervalS);
    if (problem) out.push({ pointer: `/cron/${i}/schedule`, rule: 'cron-schedule', message: `"${e.schedule}" ${problem}` });
    if (e.service !== undefined && !services.includes(e.service)) {
      out.push({
        pointer: `/cron/${i}/service`,
        rule: 'known-service',
        message: `names no service of the file: ${e.service}${services.length ? ` (it has ${services.join(', ')})` : ' (it has none)'}`,
      });
    }
    if (e.service !== undefined && e.process !== undefined) {
      out.push({ pointer: `/cron/${i}/process`, rule: 'one-target', message: 'an entry runs in a service or in a process type, not both' });
    }
    return out;
  });
}

/** The first time the schedule names strictly after `after`. */
export function nextRunAfter(schedule: string, after: Date): Date {
  return CronExpressionParser.parse(schedule.trim(), { tz: TZ, currentDate: after }).next().toDate();
}

/** The last time the schedule names at or before `at`, or null when it names none in the year before. */
export function lastRunAtOrBefore(schedule: string, at: Date): Date | null {
  const expression = CronExpressionParser.parse(schedule.trim(), { tz: TZ, currentDate: new Date(at.getTime() + 1) });
  try {
    const prev = expression.prev().toDate();
    return at.getTime() - prev.getTime() > 366 * 86_400_000 ? null : prev;
  } catch {
    return null;
  }
}

/** The scheduled time an entry should run at now, if any: the newest time it names after `last` and not after `now`. */
export function dueRun(schedule: string, last: Date, now: Date): Date | null {
  const due = lastRunAtOrBefore(schedule, now);
  return due && due.getTime() > last.getTime() ? due : null;
}
