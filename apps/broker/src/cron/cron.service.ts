import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { dueRun, nextRunAfter, type CronEntry } from '@gearshift/cartridges';
import { Leadership } from '../leadership/leadership.service';
import { AuditService } from '../audit/audit.service';
import { AppsRepository } from '../apps/apps.repository';
import { AppAccess } from '../apps/app-access.service';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { RunService } from '../lifecycle/run.service';
import type { User } from '../users/user.entity';
import type { CronRun } from './cron-run.entity';
import { CronRepository, entryKey, type EntryKey, type ScheduledApp } from './cron.repository';

/** How often the leader looks for entries that are due: schedules may name seconds. */
const TICK_MS = 1000;
/** The runs of each entry that are kept, newest first. */
export const CRON_KEEP_RUNS = 20;
/** What is kept of a run's output: its end. */
export const CRON_OUTPUT_BYTES = 16 * 1024;

/** The end of a text, at most `max` bytes of it, cut at a line. */
export function outputTail(text: string, max = CRON_OUTPUT_BYTES): string {
  if (Buffer.byteLength(text) <= max) return text;
  const tail = Buffer.from(text).subarray(-max).toString('utf8');
  const cut = tail.indexOf('\n');
  return `…\n${cut >= 0 ? tail.slice(cut + 1) : tail}`;
}

/**
 * Cron entries of apps' releases (`cron:` in gearshift.yml), run by the leading broker only. Where each entry stands
 * is in Postgres (one row per scheduled time, unique), so a new leader picks up where the last one stopped and never
 * runs a time twice; a time missed while no broker led is run once, late. A run still going when its entry is due
 * again makes that time a skipped run, logged, never a second container.
 */
@Injectable()
export class CronService implements OnApplicationBootstrap {
  private readonly logger = new Logger('cron');
  private ticking = false;
  /** Runs this broker has going, by entry, to stop when it stops leading. */
  private readonly inFlight = new Map<string, AbortController>();

  constructor(
    private readonly cronRepository: CronRepository,
    private readonly appsRepository: AppsRepository,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly access: AppAccess,
    private readonly runs: RunService,
    private readonly audit: AuditService,
    private readonly leadership: Leadership,
  ) {}

  onApplicationBootstrap(): void {
    this.leadership.whileLeader('cron', () => {
      // Runs an earlier leader left going have no broker reading them any more: their node has stopped them.
      this.cronRepository
        .abandon('the broker that ran it stopped leading before it ended', this.leadership.id)
        .catch((err: Error) => this.logger.warn(`cron: ${err.message}`));
      const timer = setInterval(() => {
        this.tick().catch((err: Error) => this.logger.warn(`cron pass failed: ${err.message}`));
      }, TICK_MS);
      return () => {
        clearInterval(timer);
        for (const stop of this.inFlight.values()) stop.abort();
      };
    });
  }

  /** One pass: every entry whose time has come is run, or skipped when its last run still goes. */
  async tick(now = new Date()): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const apps = await this.cronRepository.scheduledApps();
      const last = await this.cronRepository.lastDue(apps.map((a) => a.appId));
      for (const app of apps) {
        for (const entry of app.entries) {
          const key: EntryKey = { appId: app.appId, schedule: entry.schedule, command: entry.command };
          const due = dueRun(entry.schedule, last.get(entryKey(key)) ?? app.since, now);
          if (due && this.leadership.isLeader()) await this.start(app, entry, key, due);
        }
      }
    } finally {
      this.ticking = false;
    }
  }

  private async start(app: ScheduledApp, entry: CronEntry, key: EntryKey, due: Date): Promise<void> {
    const base = { ...key, process: entry.process ?? null, service: entry.service ?? null, release: app.release, dueAt: due, broker: this.leadership.id };
    if (this.inFlight.has(entryKey(key)) || (await this.cronRepository.running(key))) {
      const claimed = await this.cronRepository.claim({
        ...base,
        state: 'skipped',
        startedAt: null,
        finishedAt: new Date(),
        error: 'the entry’s previous run was still running',
      });
      if (claimed) {
        this.logger.warn(
          `cron: ${app.domain}/${app.app} "${entry.command}" (${entry.schedule}) due at ${due.toISOString()} skipped: its previous run is still running`,
        );
        this.record(app, entry, 409, { dueAt: due.toISOString(), skipped: true });
        await this.cronRepository.prune(key, CRON_KEEP_RUNS);
      }
      return;
    }
    // Cron runs are one-off commands of the app's deployer, in whose name they run: they count against the same
    // limit (GEARSHIFT_MAX_RUNS), taken here for the run's whole life, and a time that finds it full is skipped, as
    // one whose previous run still goes.
    const taken = this.runs.reserve(runner(app));
    if (!('release' in taken)) {
      const claimed = await this.cronRepository.claim({
        ...base,
        state: 'skipped',
        startedAt: null,
        finishedAt: new Date(),
        error: `${taken.held} commands of the app's deployer were running, the most one user may (GEARSHIFT_MAX_RUNS is ${taken.limit})`,
      });
      if (claimed) {
        this.logger.warn(
          `cron: ${app.domain}/${app.app} "${entry.command}" (${entry.schedule}) due at ${due.toISOString()} skipped: ${taken.held} of at most ${taken.limit} commands run (GEARSHIFT_MAX_RUNS)`,
        );
        this.record(app, entry, 429, { dueAt: due.toISOString(), skipped: true });
        await this.cronRepository.prune(key, CRON_KEEP_RUNS);
      }
      return;
    }
    let id: string | null;
    try {
      id = await this.cronRepository.claim({ ...base, state: 'running', startedAt: new Date(), error: null });
    } catch (err) {
      taken.release();
      throw err;
    }
    if (!id) {
      taken.release();
      return;
    }
    const stop = new AbortController();
    this.inFlight.set(entryKey(key), stop);
    void this.execute(app, entry, id, stop.signal)
      .catch((err: Error) => this.logger.error(`cron: recording a run of ${app.domain}/${app.app} failed: ${err.message}`))
      .finally(() => {
        taken.release();
        this.inFlight.delete(entryKey(key));
        this.cronRepository.prune(key, CRON_KEEP_RUNS).catch(() => undefined);
      });
  }

  private async execute(app: ScheduledApp, entry: CronEntry, id: string, signal: AbortSignal): Promise<void> {
    let output = '';
    const add = (line: string) => {
      output = outputTail(`${output}${line}\n`, CRON_OUTPUT_BYTES * 2);
    };
    let end: Awaited<ReturnType<RunService['execute']>>;
    try {
      const now = await this.appsRepository.findById(app.appId);
      if (!now) throw new Error('the app is gone');
      end = await this.runs.execute(
        now,
        { command: ['sh', '-c', entry.command], process: entry.process, service: entry.service },
        {
          onOutput: (m) => add('line' in m ? m.line : Buffer.from(m.data, 'base64').toString('utf8')),
          signal,
          labels: { 'gearshift.cron': 'true' },
        },
      );
    } catch (err) {
      end = { error: (err as Error).message };
    }
    if (end === null) end = { error: 'the broker stopped leading before it ended' };
    const exitCode = 'exitCode' in end ? end.exitCode : null;
    const error = 'error' in end ? end.error : null;
    await this.cronRepository.finish(id, { state: exitCode === 0 ? 'succeeded' : 'failed', exitCode, error, output: outputTail(output) });
    this.record(app, entry, error ? 500 : 200, exitCode === null ? { error } : { exitCode });
  }

  /** Who ran what: the release's deployer, whose gearshift.yml named the entry. */
  private record(app: ScheduledApp, entry: CronEntry, status: number, details: Record<string, unknown>): void {
    this.audit.record(
      {
        action: 'app.cron.run',
        target: `${app.domain}/${app.app}`,
        domain: app.domain,
        details: {
          schedule: entry.schedule,
          command: entry.command,
          ...(entry.process ? { process: entry.process } : {}),
          ...(entry.service ? { service: entry.service } : {}),
          release: app.release,
          ...details,
        },
      },
      { user: app.deployer, address: null },
      status,
    );
  }

  /** `GET .../cron`: the entries of the app's release, each with its next time and its newest runs. */
  async list(user: User, domainName: string, appName: string) {
    const { app } = await this.access.requireApp(user, domainName, appName, 'read');
    const release = app.activeDeploymentId ? await this.deploymentsRepository.findById(app.activeDeploymentId) : null;
    const runs = await this.cronRepository.recent(app.id, CRON_KEEP_RUNS);
    const now = new Date();
    return {
      release: release?.number ?? null,
      entries: (release?.cron ?? []).map((e) => ({
        schedule: e.schedule,
        command: e.command,
        process: e.service ? null : (e.process ?? 'web'),
        service: e.service ?? null,
        next: app.desiredState === 'started' || app.desiredState === 'idle' ? nextRunAfter(e.schedule, now).toISOString() : null,
        runs: runs.filter((r) => r.schedule === e.schedule && r.command === e.command).map(presentRun),
      })),
    };
  }
}

/** Whose commands an app's cron runs count among: its deployer's, else (no deployer is known) the app's own. */
const runner = (app: ScheduledApp): { id: string } => ({ id: app.deployer?.id ?? `app:${app.appId}` });

export function presentRun(r: CronRun) {
  return {
    dueAt: r.dueAt.toISOString(),
    state: r.state,
    release: r.release,
    // Where it ran: a named service, else a process type of the release's image.
    service: r.service,
    process: r.service ? null : (r.process ?? 'web'),
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
    exitCode: r.exitCode,
    error: r.error,
    output: r.output,
  };
}
