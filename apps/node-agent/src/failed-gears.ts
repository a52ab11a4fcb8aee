import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a gear printed before it failed its rollout or was replaced; its container is removed, this is what is left of it. */
export interface FailedGearOutput {
  gear: string;
  cartridge: string;
  at: string;
  lines: string[];
  /** Why its container is gone, as its logs say it ("failed its rollout" when absent). */
  reason?: string;
}

/** The newest few are kept per app: enough to read why the last deployments failed. */
const KEPT_PER_APP = 3;

/**
 * Keeps the output of gears that failed their health check on this node's disk, so that `logs` can still show it after
 * the rollback removed their containers. One JSON file per gear, in a folder per app.
 */
export class FailedGears {
  constructor(private readonly dir: string) {}

  private appDir(appId: string): string {
    return join(this.dir, appId.replace(/[^a-zA-Z0-9-]/g, ''));
  }

  record(appId: string, output: FailedGearOutput): void {
    const dir = this.appDir(appId);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${Date.parse(output.at)}-${output.gear}.json`), JSON.stringify(output), { mode: 0o600 });
    for (const old of this.files(appId).slice(0, -KEPT_PER_APP)) rmSync(join(dir, old), { force: true });
  }

  /** Oldest first. */
  read(appId: string): FailedGearOutput[] {
    return this.files(appId).flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(join(this.appDir(appId), f), 'utf8')) as FailedGearOutput];
      } catch {
        return [];
      }
    });
  }

  forget(appId: string): void {
    rmSync(this.appDir(appId), { recursive: true, force: true });
  }

  private files(appId: string): string[] {
    try {
      // Named by time first: a plain sort is oldest first.
      return readdirSync(this.appDir(appId))
        .filter((f) => f.endsWith('.json'))
        .sort();
    } catch {
      return [];
    }
  }
}
