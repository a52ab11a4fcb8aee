/**
 * The manifest of a platform backup: what the archive holds, each member's size and SHA-256, and the versions it was
 * made with. A restore reads it first and refuses the archive, before anything is changed, when it does not match.
 */

/** The layout of the archive this code writes and reads; a newer one is refused rather than half understood. */
export const BACKUP_FORMAT = 1;

export interface BackupMember {
  /** Path inside the archive. */
  path: string;
  bytes: number;
  sha256: string;
}

/** One tag of a release repository, exported from the registry with its manifest and blobs. */
export interface RegistryImage {
  repository: string;
  tag: string;
  mediaType: string;
  /** The manifest's own digest; its bytes are the member `registry/manifests/<hex>`. */
  digest: string;
  /** Config and layer digests; each is the member `registry/blobs/<hex>`. */
  blobs: string[];
}

/** A snapshot of one app's data, taken with `--with-app-data`; its bytes are the member `path`. */
export interface AppData {
  domain: string;
  app: string;
  path: string;
}

export interface BackupManifest {
  format: number;
  gearshift: { version: string; commit: string | null };
  /** The name of the newest migration the dumped database has run. */
  migration: string | null;
  createdAt: string;
  instance: string;
  database: string;
  /** Where the secrets key came from: the environment (GEARSHIFT_SECRET_KEY) or secret.key in the data directory. */
  secretKeyFrom: 'env' | 'file';
  images: RegistryImage[];
  /** Absent, or empty, when the backup was made without `--with-app-data`. */
  appData?: AppData[];
  members: BackupMember[];
}

export class BackupRefused extends Error {
  override name = 'BackupRefused';
}

/**
 * Checks a manifest read from an archive against what this checkout knows: its format, its schema (the newest
 * migration must be one of ours), and that each member is listed with a size and digest. Returns it typed.
 */
export function checkManifest(raw: unknown, knownMigrations: readonly string[]): BackupManifest {
  if (!raw || typeof raw !== 'object') throw new BackupRefused('manifest.json is not a JSON object');
  const m = raw as Partial<BackupManifest>;
  if (typeof m.format !== 'number') throw new BackupRefused('manifest.json has no format: this is not a Gearshift backup');
  if (m.format > BACKUP_FORMAT) {
    throw new BackupRefused(`the backup has format ${m.format}, newer than this checkout reads (${BACKUP_FORMAT}): restore it with a newer Gearshift`);
  }
  if (m.migration && !knownMigrations.includes(m.migration)) {
    throw new BackupRefused(
      `the backup's database has run migration ${m.migration}, which this checkout does not know: it comes from a newer Gearshift (${m.gearshift?.version ?? 'unknown version'}); restore it with that version or newer`,
    );
  }
  if (!Array.isArray(m.members) || m.members.length === 0) throw new BackupRefused('manifest.json lists no members');
  for (const member of m.members) {
    if (typeof member?.path !== 'string' || typeof member.bytes !== 'number' || !/^[0-9a-f]{64}$/.test(member.sha256 ?? '')) {
      throw new BackupRefused(`manifest.json lists a member without a path, size and SHA-256: ${JSON.stringify(member)}`);
    }
    if (member.path.startsWith('/') || member.path.split('/').includes('..'))
      throw new BackupRefused(`manifest.json lists a member outside the archive: ${member.path}`);
  }
  for (const required of ['database.dump', 'data/secret.key']) {
    if (!m.members.some((x) => x.path === required)) throw new BackupRefused(`manifest.json does not list ${required}`);
  }
  if (!Array.isArray(m.images)) throw new BackupRefused('manifest.json has no list of images');
  for (const d of m.appData ?? []) {
    if (!m.members.some((x) => x.path === d.path)) throw new BackupRefused(`manifest.json does not list ${d.path}, the data of ${d.domain}/${d.app}`);
  }
  return m as BackupManifest;
}
