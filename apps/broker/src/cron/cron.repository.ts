import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import type { CronEntry } from '@gearshift/cartridges';
import { CronRun } from './cron-run.entity';

/** An app whose release has cron entries, with what the scheduler needs to know of it. */
export interface ScheduledApp {
  appId: string;
  app: string;
  domain: string;
  release: number;
  /** When the release began to serve (or was made), the earliest an entry may first be due. */
  since: Date;
  entries: CronEntry[];
  /** Who deployed the release whose gearshift.yml names the entries: the runs are theirs in the audit log. */
  deployer: { id: string; username: string } | null;
}

/** One entry's identity among an app's runs. */
export type EntryKey = Pick<CronRun, 'appId' | 'schedule' | 'command'>;

@Injectable()
export class CronRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /** Apps that serve a release with cron entries (not those stopped or being deleted). */
  async scheduledApps(): Promise<ScheduledApp[]> {
    const rows = await this.m.query<
      { app_id: string; app: string; domain: string; release: number; since: Date; cron: CronEntry[]; user_id: string | null; username: string | null }[]
    >(
      `select a.id as app_id, a.name as app, d.name as domain, r.number as release,
              coalesce(r.finished_at, r.created_at) as since, r.cron, u.id as user_id, u.username
         from apps a
         join domains d on d.id = a.domain_id
         join deployments r on r.id = a.active_deployment_id
         left join users u on u.id = r.user_id
        where jsonb_array_length(r.cron) > 0 and a.desired_state in ('started', 'idle')`,
    );
    return rows.map((r) => ({
      appId: r.app_id,
      app: r.app,
      domain: r.domain,
      release: r.release,
      since: new Date(r.since),
      entries: r.cron,
      deployer: r.user_id && r.username ? { id: r.user_id, username: r.username } : null,
    }));
  }

  /** The newest scheduled time of each entry of these apps that has run (or was skipped), by `appId schedule command`. */
  async lastDue(appIds: string[]): Promise<Map<string, Date>> {
    if (appIds.length === 0) return new Map();
    const rows = await this.m.query<{ app_id: string; schedule: string; command: string; due: Date }[]>(
      `select app_id, schedule, command, max(due_at) as due from cron_runs where app_id = any($1) group by app_id, schedule, command`,
      [appIds],
    );
    return new Map(rows.map((r) => [entryKey({ appId: r.app_id, schedule: r.schedule, command: r.command }), new Date(r.due)]));
  }

  /** Whether a run of the entry is still going. */
  running(e: EntryKey): Promise<boolean> {
    return this.m.exists(CronRun, { where: { ...e, state: 'running' } });
  }

  /**
   * Records a scheduled time of an entry; false when a run for that time is already recorded (by this broker or an
   * earlier leader), which is then not run again.
   */
  async claim(run: Omit<CronRun, 'id' | 'finishedAt' | 'exitCode' | 'output'> & Partial<Pick<CronRun, 'finishedAt'>>): Promise<string | null> {
    const rows = await this.m.query<{ id: string }[]>(
      `insert into cron_runs (app_id, schedule, command, process, service, release, due_at, state, started_at, finished_at, error, broker)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       on conflict (app_id, schedule, command, due_at) do nothing
       returning id`,
      [
        run.appId,
        run.schedule,
        run.command,
        run.process,
        run.service,
        run.release,
        run.dueAt,
        run.state,
        run.startedAt,
        run.finishedAt ?? null,
        run.error,
        run.broker,
      ],
    );
    return rows[0]?.id ?? null;
  }

  async finish(id: string, end: Pick<CronRun, 'state' | 'exitCode' | 'output' | 'error'>): Promise<void> {
    await this.m.update(CronRun, { id }, { ...end, finishedAt: new Date() });
  }

  /** Runs left `running` by a broker that no longer runs them: ended as failed, with why. */
  async abandon(reason: string, exceptBroker?: string): Promise<number> {
    const rows = await this.m.query<unknown[]>(
      `update cron_runs set state = 'failed', error = $1, finished_at = now()
        where state = 'running' and ($2::text is null or broker is distinct from $2) returning id`,
      [reason, exceptBroker ?? null],
    );
    return rows.length;
  }

  /** Keeps the newest `keep` runs of each entry of the app. */
  async prune(e: EntryKey, keep: number): Promise<void> {
    await this.m.query(
      `delete from cron_runs where id in (
         select id from cron_runs where app_id = $1 and schedule = $2 and command = $3
          order by due_at desc offset $4)`,
      [e.appId, e.schedule, e.command, keep],
    );
  }

  /** The newest runs of an app, newest first, at most `perEntry` of each entry. */
  async recent(appId: string, perEntry: number): Promise<CronRun[]> {
    const ids = await this.m.query<{ id: string }[]>(
      `select id from (
         select id, row_number() over (partition by schedule, command order by due_at desc) as n
           from cron_runs where app_id = $1) r
        where n <= $2`,
      [appId, perEntry],
    );
    if (ids.length === 0) return [];
    return this.m
      .createQueryBuilder(CronRun, 'r')
      .where('r.id in (:...ids)', { ids: ids.map((r) => r.id) })
      .orderBy('r.due_at', 'DESC')
      .getMany();
  }
}

export const entryKey = (e: EntryKey) => `${e.appId} ${e.schedule} ${e.command}`;
