import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { takeAppData } from './app-data';
import { BACKUP_FORMAT, type AppData, type BackupManifest, type RegistryImage } from './manifest';
import { RegistryClient } from './registry-images';
import { DATA_DIRS, DATA_FILES, filesUnder, gearshiftVersion, isDir, megabytes, pgTarget, query, say, sha256File, type PlatformSettings } from './settings';

/**
 * `npm run backup -- FILE`: one .tar.gz with the platform's database (pg_dump, one consistent snapshot), its secrets
 * key and data files, its release images from the registry, and a manifest with each member's size and SHA-256. The
 * routes are not in it: the broker publishes them again from the database. The file holds the secrets key, so it is
 * made readable by its owner alone, and it appears whole or not at all (written beside, then renamed).
 */
export async function backup(file: string, settings: PlatformSettings, opts: { withAppData: boolean; env: NodeJS.ProcessEnv }): Promise<void> {
  const started = Date.now();
  // Every file made from here is its owner's alone, the archive too, from its first byte.
  process.umask(0o077);
  const target = resolve(file);
  const staging = mkdtempSync(join(dirname(target), `.${basename(target)}.`));
  const pending = `${staging}.tar.gz`;
  try {
    const pg = pgTarget(settings.databaseUrl);
    say(`dumping the database ${pg.database}`);
    execFileSync('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${join(staging, 'database.dump')}`, pg.url], {
      env: pg.env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const [latest] = await query<{ name: string }>(settings.databaseUrl, 'select name from migrations order by "timestamp" desc limit 1');

    say(`copying the secrets key and data files of ${settings.dataDir}`);
    mkdirSync(join(staging, 'data'));
    const keyFile = join(settings.dataDir, 'secret.key');
    if (settings.secretKey) writeFileSync(join(staging, 'data', 'secret.key'), settings.secretKey.toString('base64'), { mode: 0o600 });
    else if (!existsSync(keyFile))
      throw new Error(
        `there is no secrets key: GEARSHIFT_SECRET_KEY is not set and ${keyFile} does not exist (has the broker ever started with this data directory?)`,
      );
    for (const name of DATA_FILES) {
      const from = join(settings.dataDir, name);
      if (existsSync(from) && !(name === 'secret.key' && settings.secretKey)) cpSync(from, join(staging, 'data', name));
    }
    for (const name of DATA_DIRS)
      if (isDir(join(settings.dataDir, name))) cpSync(join(settings.dataDir, name), join(staging, 'data', name), { recursive: true });

    const images = await exportImages(settings, staging);
    let appData: AppData[] = [];
    if (opts.withAppData) {
      say('taking a snapshot of the data of each app');
      appData = await takeAppData(settings, staging, opts.env);
    }

    const members = await Promise.all(
      filesUnder(staging, staging).map(async (path) => ({ path, bytes: statSync(join(staging, path)).size, sha256: await sha256File(join(staging, path)) })),
    );
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      gearshift: gearshiftVersion(),
      migration: latest?.name ?? null,
      createdAt: new Date().toISOString(),
      instance: settings.instance,
      database: pg.database,
      secretKeyFrom: settings.secretKey ? 'env' : 'file',
      images,
      appData,
      members,
    };
    writeFileSync(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    say(`writing ${target}`);
    // manifest.json first: a reader finds what to expect before the members.
    execFileSync('tar', ['-czf', pending, '-C', staging, 'manifest.json', ...members.map((m) => m.path)], { stdio: ['ignore', 'inherit', 'inherit'] });
    chmodSync(pending, 0o600);
    renameSync(pending, target);
    const size = statSync(target).size;
    say(
      `backup written: ${target} (${megabytes(size)}, ${images.length} images, data of ${appData.length} apps, in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(pending, { force: true });
  }
}

/** Every tag of the platform's release repositories, with its manifest and blobs (each blob stored once). */
async function exportImages(settings: PlatformSettings, staging: string): Promise<RegistryImage[]> {
  if (!settings.registry) {
    say('no registry is configured: the backup holds no release images');
    return [];
  }
  const registry = new RegistryClient(settings.registry, settings.registryAuth);
  const repositories = await registry.repositories(`gearshift-apps/${settings.instance}-`);
  say(`exporting the release images of ${repositories.length} apps from the registry ${settings.registry}`);
  mkdirSync(join(staging, 'registry', 'blobs'), { recursive: true });
  mkdirSync(join(staging, 'registry', 'manifests'), { recursive: true });
  const images: RegistryImage[] = [];
  for (const repository of repositories) {
    for (const tag of await registry.tags(repository)) {
      const m = await registry.manifest(repository, tag);
      writeFileSync(join(staging, 'registry', 'manifests', m.digest.replace(/^sha256:/, '')), m.bytes);
      for (const digest of m.blobs) {
        const path = join(staging, 'registry', 'blobs', digest.replace(/^sha256:/, ''));
        if (!existsSync(path)) writeFileSync(path, await registry.blob(repository, digest));
      }
      images.push({ repository, tag, mediaType: m.mediaType, digest: m.digest, blobs: m.blobs });
      say(`  ${repository}:${tag}`);
    }
  }
  return images;
}
