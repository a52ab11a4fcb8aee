import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, execIn, instanceContainers } from './docker';
import { ROOT } from './processes';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The commit this checkout runs. */
export const currentCommit = (): string => git(ROOT, 'rev-parse', 'HEAD');

/** The commit an upgrade starts from: GEARSHIFT_UPGRADE_FROM, or the previous commit of this one (its first parent). */
export function upgradeFrom(): string {
  return git(ROOT, 'rev-parse', process.env.GEARSHIFT_UPGRADE_FROM || 'HEAD~1');
}

/**
 * A checkout of an earlier commit of this repository in a temporary folder, with node_modules: hard links of this
 * checkout's when package-lock.json is the same, `npm ci --prefer-offline` otherwise. remove() deletes it.
 */
export class EarlierCheckout {
  readonly dir: string;

  constructor(readonly commit: string) {
    this.dir = mkdtempSync(join(tmpdir(), 'gearshift-upgrade-from-'));
    git(tmpdir(), 'clone', '--quiet', '--no-checkout', ROOT, this.dir);
    git(this.dir, 'checkout', '--quiet', '--detach', commit);
    const lock = (dir: string) => readFileSync(join(dir, 'package-lock.json'), 'utf8');
    if (existsSync(join(ROOT, 'node_modules')) && lock(ROOT) === lock(this.dir)) {
      execFileSync('cp', ['-al', join(ROOT, 'node_modules'), join(this.dir, 'node_modules')]);
      // npm's own record of what is installed, as a file of its own and newer than package-lock.json: `npm run up`
      // then finds the packages installed and never rewrites the files this checkout shares.
      const record = join(this.dir, 'node_modules', '.package-lock.json');
      if (existsSync(record)) {
        rmSync(record);
        copyFileSync(join(ROOT, 'node_modules', '.package-lock.json'), record);
        const later = new Date(Date.now() + 60_000);
        utimesSync(record, later, later);
      }
    } else {
      execFileSync('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: this.dir, stdio: 'inherit' });
    }
  }

  /** Compiles it, as its `npm run up` would. */
  build(): void {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: this.dir, stdio: ['ignore', 'inherit', 'inherit'] });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs SQL in the PostgreSQL gear of app `app` of platform instance `instance`, as the app's own database user. */
export async function psqlInApp(instance: string, app: string, sql: string): Promise<string> {
  const [db] = await instanceContainers(instance, { 'gearshift.app-name': app, 'gearshift.cartridge': 'postgresql-15' });
  if (!db) throw new Error(`app ${app} has no postgresql-15 gear`);
  const info = await docker.getContainer(db.Id).inspect();
  const env = Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return execIn(db.Id, ['psql', '-qAt', '-h', '/run/postgresql', '-U', env.POSTGRESQL_USER, '-d', env.POSTGRESQL_DATABASE, '-c', sql]);
}
