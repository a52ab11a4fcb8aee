import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { BROKER_CONFIG, repoRoot, type BrokerConfig } from '../config';

/** The advisory lock the leader holds for as long as it leads (its own key: migrations and the others use theirs). */
export const LEADER_LOCK = 0x6765_6175;

/** The first key of the locks claim() takes (the second is a hash of the claim's name): apart from LEADER_LOCK's. */
const CLAIM_LOCKS = 0x6773_636c;

/** How often a follower tries the lock and the leader checks its connection. */
const CHECK_MS = 1000;

/** A leader that cannot reach Postgres for this long steps down, well before Postgres lets the lock go (see below). */
const QUERY_TIMEOUT_MS = 2000;

/** What each broker's lock connection is named in Postgres: the listing of brokers is read back from these names. */
const APPLICATION_PREFIX = 'gearshift-broker';

/** A broker as Postgres sees it: one row per broker connected to this database. */
export interface BrokerSeen {
  /** Host name and port of the broker's API. */
  id: string;
  host: string;
  version: string;
  leader: boolean;
  /** When the broker last spoke on its lock connection (every second while it runs). */
  lastSeen: string;
  since: string;
}

/** Work that runs on the leader only: started when this broker becomes leader, stopped when it stops being one. */
export type LeaderWork = () => () => void;

/**
 * Chooses one leader among the brokers that share a database, for the loops that must run once (the operation
 * sweeper, the autoscaler, the registry janitor, the audit pruner). The leader is the broker that holds a
 * session-level advisory lock on a connection of its own.
 *
 * A lock rather than a lease row renewed every second: Postgres itself lets go of a session's locks the moment the
 * session ends, so a broker killed with -9 (its socket closes) hands over within one check, with no clock to trust,
 * no row to write each second, and no window in which two brokers both believe their lease is current. A connection
 * that dies without closing (a host cut off the network) is ended by Postgres after the keepalive settings below
 * (about 8 s); the leader itself steps down after QUERY_TIMEOUT_MS without an answer, so it has stopped its loops
 * before another broker can get the lock.
 */
@Injectable()
export class Leadership implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('leadership');
  readonly id: string;
  private readonly version: string;
  private client?: Client;
  private leading = false;
  private checking = false;
  private timer?: NodeJS.Timeout;
  private readonly work: { name: string; start: LeaderWork; stop?: () => void }[] = [];
  /** The names this broker has claimed (see claim()), taken again on a new connection. */
  private readonly claims = new Set<string>();

  constructor(@Inject(BROKER_CONFIG) private readonly config: BrokerConfig) {
    this.id = `${hostname()}:${config.port}`;
    this.version = packageVersion();
  }

  isLeader(): boolean {
    return this.leading;
  }

  /**
   * Runs `start` while this broker leads: at once if it leads now, else when it becomes leader; the function `start`
   * returns is called when it stops leading (or shuts down).
   */
  whileLeader(name: string, start: LeaderWork): void {
    const entry: (typeof this.work)[number] = { name, start };
    this.work.push(entry);
    if (this.leading) entry.stop = start();
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.checkLogged(), CHECK_MS);
    this.checkLogged();
  }

  /** Before the rest of the broker closes: the leader's loops stop while what they use is still there. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.timer);
    // Ending the session frees the lock at once: another broker takes over within a second.
    await this.drop();
  }

  /**
   * Claims work named `key` (a driven operation) for this broker's life: true when this broker holds it now (it may
   * have held it already), false when another broker does or Postgres cannot be reached. It is the same kind of lock
   * as the leader's, on the same connection, so it ends the moment this broker dies, and the leader can take the work
   * over at once. A connection lost and made again claims its names again; one another broker took meanwhile is
   * that broker's, and the work itself must notice (a driven operation names its driver).
   */
  async claim(key: string): Promise<boolean> {
    if (this.claims.has(key)) return true;
    if (!this.client) return false;
    const { rows } = await this.client.query<{ got: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as got', [CLAIM_LOCKS, key]);
    if (rows[0]?.got) this.claims.add(key);
    return rows[0]?.got === true;
  }

  /** Lets go of a claim once its work is done. */
  async release(key: string): Promise<void> {
    if (!this.claims.delete(key)) return;
    await this.client?.query('select pg_advisory_unlock($1, hashtext($2))', [CLAIM_LOCKS, key]);
  }

  /** Every broker connected to this database, the leader marked, as Postgres sees them now. */
  async brokers(): Promise<BrokerSeen[]> {
    if (!this.client) return [];
    const rows = (
      await this.client.query<{ name: string; since: Date; seen: Date | null; leader: boolean }>(
        `select a.application_name as name, a.backend_start as since, a.state_change as seen,
                exists (select 1 from pg_locks l
                         where l.locktype = 'advisory' and l.granted and l.pid = a.pid
                           and l.database = (select oid from pg_database where datname = current_database())
                           and l.classid = 0 and l.objid::bigint = $1 and l.objsubid = 1) as leader
           from pg_stat_activity a
          where a.datname = current_database() and a.application_name like $2
          order by a.backend_start`,
        [LEADER_LOCK, `${APPLICATION_PREFIX} %`],
      )
    ).rows;
    return rows.map((r) => {
      const [, version = '', id = ''] = r.name.split(' ');
      return {
        id,
        host: id.replace(/:\d+$/, ''),
        version,
        leader: r.leader,
        lastSeen: (r.seen ?? r.since).toISOString(),
        since: r.since.toISOString(),
      };
    });
  }

  private checkLogged(): void {
    this.check().catch((err: Error) => this.logger.warn(`leadership check: ${err.message}`));
  }

  /** One check: a follower tries the lock, the leader makes sure its session (and so its lock) is still there. */
  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const client = this.client ?? (await this.connect());
      if (this.leading) {
        await client.query('select 1');
        return;
      }
      const { rows } = await client.query<{ got: boolean }>('select pg_try_advisory_lock($1) as got', [LEADER_LOCK]);
      if (rows[0]?.got) this.gain();
    } catch (err) {
      if (this.leading) this.logger.warn(`lost the connection that holds the leadership: ${(err as Error).message}`);
      await this.drop();
    } finally {
      this.checking = false;
    }
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.config.databaseUrl,
      // Postgres truncates names at 63 bytes; the version comes first so that a long host name loses only its end.
      application_name: `${APPLICATION_PREFIX} ${this.version} ${this.id}`.slice(0, 63),
      query_timeout: QUERY_TIMEOUT_MS,
      connectionTimeoutMillis: QUERY_TIMEOUT_MS,
      keepAlive: true,
    });
    client.on('error', (err) => {
      this.logger.warn(`leadership connection: ${err.message}`);
      this.drop().catch(() => undefined);
    });
    await client.connect();
    this.client = client;
    // Postgres ends a session whose peer vanished without closing it after 5 + 3 × 1 s (over TCP; ignored on a socket).
    await client.query('set tcp_keepalives_idle = 5; set tcp_keepalives_interval = 1; set tcp_keepalives_count = 3').catch(() => undefined);
    for (const key of [...this.claims]) {
      const { rows } = await client.query<{ got: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as got', [CLAIM_LOCKS, key]);
      if (!rows[0]?.got) this.claims.delete(key);
    }
    return client;
  }

  private gain(): void {
    this.leading = true;
    this.logger.log(`broker ${this.id} leads`);
    for (const w of this.work) {
      try {
        w.stop = w.start();
      } catch (err) {
        this.logger.error(`starting ${w.name} as leader: ${(err as Error).message}`);
      }
    }
  }

  /** Steps down (stopping the leader's work first), and ends the session, which frees the lock. */
  private async drop(): Promise<void> {
    if (this.leading) {
      this.leading = false;
      for (const w of this.work) {
        w.stop?.();
        w.stop = undefined;
      }
      this.logger.warn(`broker ${this.id} no longer leads`);
    }
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/** Gearshift's version, as the package says; `unknown` where the package file is not beside the build. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
