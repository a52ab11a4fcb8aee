import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Leadership } from '../leadership/leadership.service';
import { AppsRepository } from '../apps/apps.repository';
import { OperationsService } from '../operations/operations.service';

/** The bare repository of an app in the data directory's git/: its id and `.git`. */
const REPOSITORY = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.git$/;

/**
 * Removes the git repositories of deleted apps (git-backend.ts makes one per app at its first fetch or push): after
 * each app deletion, and on the leading broker at start for those an earlier broker left. Reads what is there and
 * compares it with Postgres, so a deletion this broker missed is caught by the next pass.
 */
@Injectable()
export class GitRepositories implements OnApplicationBootstrap {
  private readonly logger = new Logger('git');
  private running?: Promise<number>;

  constructor(
    private readonly apps: AppsRepository,
    private readonly operations: OperationsService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly leadership: Leadership,
  ) {}

  onApplicationBootstrap(): void {
    // An app's deletion ends in one stage (its gears removed); what follows it here is the repository's removal.
    this.operations.registerStages('app.delete', {
      next: () => Promise.resolve(null),
      ended: async () => void (await this.sweep()),
    });
    this.leadership.whileLeader('git repositories', () => {
      void this.sweep().catch((err: Error) => this.logger.warn(`removing git repositories of deleted apps: ${err.message}`));
      return () => undefined;
    });
  }

  /** One pass at a time; resolves to how many repositories went. */
  sweep(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    const root = join(this.config.dataDir, 'git');
    const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [] as string[];
      throw err;
    });
    const found = names.map((name) => REPOSITORY.exec(name)?.[1]).filter((id): id is string => id !== undefined);
    if (found.length === 0) return 0;
    const live = new Set(await this.apps.ids());
    let removed = 0;
    for (const id of found) {
      if (live.has(id)) continue;
      await rm(join(root, `${id}.git`), { recursive: true, force: true });
      removed++;
    }
    if (removed > 0) this.logger.log(`removed the git repositories of ${removed} deleted app(s)`);
    return removed;
  }
}
