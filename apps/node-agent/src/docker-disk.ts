import type Docker from 'dockerode';
import type { DiskUsage } from './disk-gc';
import { checkName, statusOf } from './docker-names';

/** What the Engine's disk holds (`docker system df`), as the disk planner reads it. */
export async function diskUsage(docker: Docker): Promise<DiskUsage> {
  const df = (await docker.df()) as {
    Images?: { Id: string; RepoTags?: string[] | null; Labels?: Record<string, string> | null; Size: number; Containers: number; Created: number }[];
    Volumes?: { Name: string; Labels?: Record<string, string> | null; CreatedAt?: string; UsageData?: { Size: number; RefCount: number } | null }[];
    BuildCache?: { Size: number; InUse: boolean }[] | null;
  };
  return {
    images: (df.Images ?? []).map((i) => ({
      id: i.Id,
      tags: i.RepoTags ?? [],
      labels: i.Labels ?? {},
      size: i.Size,
      containers: i.Containers,
      created: i.Created * 1000,
    })),
    volumes: (df.Volumes ?? []).map((v) => ({
      name: v.Name,
      labels: v.Labels ?? {},
      size: v.UsageData?.Size ?? 0,
      // An unknown count counts as in use: such a volume is left.
      refCount: v.UsageData?.RefCount ?? 1,
      createdAt: v.CreatedAt ? Date.parse(v.CreatedAt) : Date.now(),
    })),
    buildCacheBytes: (df.BuildCache ?? []).filter((b) => !b.InUse).reduce((n, b) => n + b.Size, 0),
  };
}

/** Removes an image by id or tag, never by force: an image a container uses is left and reported false. */
export async function removeImageRef(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(checkName('image', ref)).remove({ force: false, noprune: false });
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return true;
    if (statusOf(err) === 409) return false;
    throw err;
  }
}

/** Prunes the build cache down to `keepBytes` (the Engine's keep-storage: least recently used first); returns bytes freed. */
export async function pruneBuildCache(docker: Docker, keepBytes: number): Promise<number> {
  // dockerode's pruneBuilder sends no query: the Engine's own endpoint is called with keep-storage.
  const res = await new Promise<{ SpaceReclaimed?: number }>((resolve, reject) =>
    docker.modem.dial(
      { path: '/build/prune?', method: 'POST', options: { 'keep-storage': keepBytes }, statusCodes: { 200: true, 500: 'server error' } },
      (err: Error | null, data: unknown) => (err ? reject(err) : resolve((data ?? {}) as { SpaceReclaimed?: number })),
    ),
  );
  return res.SpaceReclaimed ?? 0;
}
