import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { MIGRATIONS } from '../../../migrations';
import { restoreAppData } from './app-data';
import { BackupRefused, checkManifest, type BackupManifest } from './manifest';
import { RegistryClient } from './registry-images';
import { DATA_DIRS, filesUnder, megabytes, pgTarget, query, say, sha256File, type PlatformSettings } from './settings';

/**
 * `npm run restore -- FILE`: puts a backup back into the platform named by the environment. The archive is checked
 * whole first (it unpacks, its manifest is one this checkout reads, every member is there with its size and SHA-256)
 * and the platform must be stopped; until both hold nothing is changed. Then the database is replaced, the secrets
 * key and data files written, and the release images pushed to the registry. When the platform starts again its
 * broker publishes the routes from the restored database and the agents converge the apps.
 */
export async function restore(file: string, settings: PlatformSettings, opts: { withAppData: boolean; env: NodeJS.ProcessEnv }): Promise<void> {
  const started = Date.now();
  const archive = resolve(file);
  const unpacked = mkdtempSync(join(tmpdir(), 'gearshift-restore-'));
  try {
    say(`checking ${archive}`);
    const manifest = await unpackAndCheck(archive, unpacked, settings);
    say(
      `the backup of ${manifest.createdAt} (Gearshift ${manifest.gearshift.version}, schema ${manifest.migration ?? 'empty'}, ${manifest.images.length} images) is whole`,
    );
    const appData = manifest.appData ?? [];
    if (opts.withAppData) {
      // The second step, on the running platform its first step restored: the apps exist, their data comes back.
      if (!appData.length) throw new BackupRefused(`${archive} holds no app data (it was made without --with-app-data)`);
      say(`restoring the data of ${appData.length} apps through the broker`);
      await restoreAppData(settings, unpacked, appData, opts.env);
      say(`restored the data of ${appData.length} apps in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    await checkStopped(settings);

    const pg = pgTarget(settings.databaseUrl);
    say(`replacing the database ${pg.database}`);
    await recreateDatabase(pg.maintenanceUrl, pg.database);
    execFileSync('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', `--dbname=${pg.url}`, join(unpacked, 'database.dump')], {
      env: pg.env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });

    say(`writing the secrets key and data files to ${settings.dataDir}`);
    mkdirSync(settings.dataDir, { recursive: true, mode: 0o750 });
    for (const name of DATA_DIRS) {
      if (!existsSync(join(unpacked, 'data', name))) continue;
      rmSync(join(settings.dataDir, name), { recursive: true, force: true });
      cpSync(join(unpacked, 'data', name), join(settings.dataDir, name), { recursive: true });
    }
    for (const name of filesUnder(join(unpacked, 'data'), join(unpacked, 'data'))) {
      if (DATA_DIRS.some((d) => name.startsWith(`${d}/`))) continue;
      // With GEARSHIFT_SECRET_KEY set (and checked equal above), the key stays where the operator keeps it.
      if (name === 'secret.key' && settings.secretKey) continue;
      cpSync(join(unpacked, 'data', name), join(settings.dataDir, name));
      chmodSync(join(settings.dataDir, name), 0o600);
    }

    if (manifest.images.length) {
      if (!settings.registry) throw new Error('the backup holds release images but no registry is configured (GEARSHIFT_REGISTRY)');
      say(`pushing ${manifest.images.length} release images to the registry ${settings.registry}`);
      const registry = new RegistryClient(settings.registry, settings.registryAuth);
      for (const image of manifest.images) {
        for (const digest of image.blobs)
          await registry.putBlob(image.repository, digest, readFileSync(join(unpacked, 'registry', 'blobs', digest.replace(/^sha256:/, ''))));
        await registry.putManifest(image, readFileSync(join(unpacked, 'registry', 'manifests', image.digest.replace(/^sha256:/, ''))));
        say(`  ${image.repository}:${image.tag}`);
      }
    }
    say(
      `restored ${megabytes(statSync(archive).size)} in ${((Date.now() - started) / 1000).toFixed(1)} s; start the platform with \`npm run up\`: the broker publishes the routes again and the agents bring the apps back`,
    );
    if (appData.length) say(`then \`npm run restore -- ${file} --with-app-data\` puts back the data of ${appData.length} apps from their snapshots`);
  } finally {
    rmSync(unpacked, { recursive: true, force: true });
  }
}

async function unpackAndCheck(archive: string, dir: string, settings: PlatformSettings): Promise<BackupManifest> {
  if (!existsSync(archive) || !statSync(archive).isFile()) throw new BackupRefused(`${archive} is not a file`);
  try {
    execFileSync('tar', ['-xzf', archive, '-C', dir, '--no-same-owner'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const detail = String((err as { stderr?: Buffer }).stderr ?? '')
      .trim()
      .split('\n')
      .slice(-2)
      .join('; ');
    throw new BackupRefused(`${archive} is not a whole .tar.gz (damaged or truncated?): ${detail}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  } catch {
    throw new BackupRefused(`${archive} has no readable manifest.json: it is not a Gearshift backup`);
  }
  const manifest = checkManifest(
    raw,
    MIGRATIONS.map((m) => new m().name),
  );
  const listed = new Set(manifest.members.map((m) => m.path));
  for (const m of manifest.members) {
    const path = join(dir, m.path);
    if (!existsSync(path)) throw new BackupRefused(`${archive} lacks ${m.path}, which its manifest lists`);
    if (statSync(path).size !== m.bytes || (await sha256File(path)) !== m.sha256)
      throw new BackupRefused(`${m.path} in ${archive} does not match its SHA-256 in the manifest: the file is damaged`);
  }
  const unlisted = filesUnder(dir, dir).filter((p) => p !== 'manifest.json' && !listed.has(p));
  if (unlisted.length) throw new BackupRefused(`${archive} holds files its manifest does not list: ${unlisted.slice(0, 5).join(', ')}`);
  for (const image of manifest.images) {
    for (const digest of [image.digest, ...image.blobs]) {
      const kind = digest === image.digest ? 'manifests' : 'blobs';
      if (!listed.has(`registry/${kind}/${digest.replace(/^sha256:/, '')}`))
        throw new BackupRefused(`${archive} lacks ${digest} of ${image.repository}:${image.tag}`);
    }
  }
  const key = readFileSync(join(dir, 'data', 'secret.key'), 'utf8').trim();
  if (settings.secretKey && settings.secretKey.toString('base64') !== key) {
    throw new BackupRefused(
      'GEARSHIFT_SECRET_KEY differs from the key in the backup, which sealed its secrets: unset it (the key is written to secret.key in the data directory) or set it to the backed-up key',
    );
  }
  return manifest;
}

/** The platform must not run while its database is replaced: its broker would write to a database being swapped. */
async function checkStopped(settings: PlatformSettings): Promise<void> {
  const broker = `http://${settings.host}:${settings.port}/api/v1/healthz`;
  const answer = await fetch(broker, { signal: AbortSignal.timeout(2000) }).catch(() => null);
  if (answer) throw new BackupRefused(`a broker answers at ${broker}: stop the platform first (\`npm run down\`), then run the restore again`);
  const pg = pgTarget(settings.databaseUrl);
  const sessions = await query<{ application_name: string; client_addr: string | null }>(
    pg.maintenanceUrl,
    'select application_name, client_addr::text from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
    [pg.database],
  );
  if (sessions.length) {
    const who = sessions.map((s) => s.application_name || s.client_addr || 'a local client').join(', ');
    throw new BackupRefused(
      `${sessions.length} sessions use the database ${pg.database} (${who}): stop the platform first (\`npm run down\`), then run the restore again`,
    );
  }
}

async function recreateDatabase(maintenanceUrl: string, database: string): Promise<void> {
  const pg = new Client({ connectionString: maintenanceUrl });
  await pg.connect();
  try {
    const name = `"${database.replace(/"/g, '""')}"`;
    // An autovacuum worker can hold the database for a moment after the platform stopped.
    for (let attempt = 0; ; attempt++) {
      try {
        await pg.query(`drop database if exists ${name} with (force)`);
        break;
      } catch (err) {
        if (attempt >= 40 || !['42501', '55006'].includes((err as { code?: string }).code ?? '')) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    await pg.query(`create database ${name}`);
  } finally {
    await pg.end();
  }
}
