import { LABELS } from '@gearshift/cartridges';

/**
 * Disk hygiene on one host: what Gearshift left behind that nothing needs any more. A pure planner reads what the
 * Engine reports (`docker system df`) and what the broker says is alive, and lists exactly what to remove; the
 * agent's job and `npm run gc` both carry the list out. Only things that carry this instance's labels are ever
 * listed, and never one a container still uses.
 */

export type GcKind = 'dangling images' | 'release images' | 'build cache' | 'volumes' | 'logs' | 'registry';

export interface GcItem {
  kind: GcKind;
  /** An image id, an image tag, a volume name, a file: what is removed. */
  name: string;
  bytes: number;
}

/** The part of the Engine's disk usage report the planner reads. */
export interface DiskUsage {
  /** `created`: ms since the epoch. */
  images: { id: string; tags: string[]; labels: Record<string, string>; size: number; containers: number; created: number }[];
  volumes: { name: string; labels: Record<string, string>; size: number; refCount: number; createdAt: number }[];
  /** Bytes of build cache no running build uses. */
  buildCacheBytes: number;
}

export interface GcFacts {
  instance: string;
  /** Ids of the apps the broker has. */
  apps: ReadonlySet<string>;
  /** Release images a deployment still keeps (the running one and those kept for rollback). */
  keepImages: ReadonlySet<string>;
  /** Build cache kept; what is over it is pruned, oldest first (by the Engine). */
  buildCacheBytes: number;
  /** Volumes made after this (ms since the epoch) are left: their app may be newer than the list of apps. */
  before: number;
  /**
   * Images younger than this (ms) are left: a build in progress has made its image but not yet pushed it, or the
   * broker has not yet recorded its release.
   */
  graceMs: number;
}

const isTag = (t: string) => t !== '<none>:<none>' && !t.endsWith('@<none>');

export function planDiskGc(usage: DiskUsage, facts: GcFacts): GcItem[] {
  const ours = (labels: Record<string, string>) => labels[LABELS.managedBy] === 'gearshift' && labels[LABELS.instance] === facts.instance;
  const items: GcItem[] = [];
  for (const image of usage.images) {
    if (!ours(image.labels) || image.containers > 0 || image.created > facts.before - facts.graceMs) continue;
    const tags = image.tags.filter(isTag);
    if (tags.length === 0) {
      items.push({ kind: 'dangling images', name: image.id, bytes: image.size });
      continue;
    }
    const app = image.labels[LABELS.app];
    if (!app) continue;
    const gone = tags.filter((t) => !facts.keepImages.has(t) || !facts.apps.has(app));
    // Removing a tag frees nothing while another tag still names the image: its size goes with the last one.
    gone.forEach((tag, i) => items.push({ kind: 'release images', name: tag, bytes: gone.length === tags.length && i === gone.length - 1 ? image.size : 0 }));
  }
  for (const volume of usage.volumes) {
    const app = volume.labels[LABELS.app];
    if (!ours(volume.labels) || !app || facts.apps.has(app) || volume.refCount > 0 || volume.createdAt >= facts.before) continue;
    items.push({ kind: 'volumes', name: volume.name, bytes: Math.max(0, volume.size) });
  }
  if (usage.buildCacheBytes > facts.buildCacheBytes)
    items.push({ kind: 'build cache', name: `over ${formatBytes(facts.buildCacheBytes)}`, bytes: usage.buildCacheBytes - facts.buildCacheBytes });
  return items;
}

/** Bytes freed by kind, in the order of GC_KINDS, and the total. */
export function summarize(items: GcItem[]): { kind: GcKind; count: number; bytes: number }[] {
  const kinds: GcKind[] = ['dangling images', 'release images', 'build cache', 'volumes', 'logs', 'registry'];
  return kinds.map((kind) => {
    const of = items.filter((i) => i.kind === kind);
    return { kind, count: of.length, bytes: of.reduce((n, i) => n + i.bytes, 0) };
  });
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** The table `npm run gc` prints: one row per kind, then the total. */
export function gcTable(items: GcItem[], dryRun: boolean): string {
  const rows = summarize(items).map((r) => [r.kind, String(r.count), formatBytes(r.bytes)]);
  const total = items.reduce((n, i) => n + i.bytes, 0);
  rows.push(['total', String(items.length), formatBytes(total)]);
  const head = ['kind', dryRun ? 'would remove' : 'removed', dryRun ? 'would free' : 'freed'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** The Docker adapter's calls the collector makes. */
export interface DiskDoor {
  diskUsage(): Promise<DiskUsage>;
  removeImageRef(ref: string): Promise<boolean>;
  removeVolume(name: string): Promise<void>;
  pruneBuildCache(keepBytes: number): Promise<number>;
}

/**
 * Plans, then (unless a dry run) removes; returns what went. Something that became used in between (a container
 * started on an image or a volume) is left by the Engine and is not counted.
 */
export async function collectDisk(docker: DiskDoor, facts: GcFacts, dryRun: boolean): Promise<GcItem[]> {
  const plan = planDiskGc(await docker.diskUsage(), facts);
  if (dryRun) return plan;
  const done: GcItem[] = [];
  for (const item of plan) {
    if (item.kind === 'build cache') {
      done.push({ ...item, bytes: await docker.pruneBuildCache(facts.buildCacheBytes) });
    } else if (item.kind === 'volumes') {
      try {
        await docker.removeVolume(item.name);
        done.push(item);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409) throw err;
      }
    } else if (await docker.removeImageRef(item.name)) {
      done.push(item);
    }
  }
  return done;
}
