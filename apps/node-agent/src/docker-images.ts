import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { checkName, DockerError, statusOf } from './docker-names';
import { buildCpuOptions } from './docker-confinement';

/** Images in the Docker Engine: built, pulled, pushed, listed and removed. Reached through the DockerAdapter. */

export interface BuildImageOptions {
  contextDir: string;
  tag: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** Ignore Docker's layer cache (a cold build). */
  noCache?: boolean;
  /** The Dockerfile's path inside the context (default: Dockerfile). */
  dockerfile?: string;
  /** The stage of a multi-stage Dockerfile to build (default: its last). */
  target?: string;
  /** Limits of the build's containers. */
  memoryMb?: number;
  cpus?: number;
  /** The build is cancelled after this long. */
  timeoutMs?: number;
  onLine?: (line: string) => void;
}

export async function imageExists(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(checkName('image', tag)).inspect();
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return false;
    throw err;
  }
}

/** The image a reference finds on this node (by name, or by id or id prefix), with the names it carries; null when none. */
export async function inspectImageNames(docker: Docker, ref: string): Promise<{ id: string; tags: string[]; digests: string[] } | null> {
  try {
    const info = await docker.getImage(checkName('image', ref)).inspect();
    return { id: info.Id, tags: info.RepoTags ?? [], digests: info.RepoDigests ?? [] };
  } catch (err) {
    if (statusOf(err) === 404) return null;
    throw err;
  }
}

/** Builds an image from a folder; the build's own error message is thrown when it fails. */
/**
 * A line of build output without terminal escape sequences: the Engine colours what a build step wrote to stderr, and
 * a developer reads the output in a log or a browser, where the codes are noise.
 */
export function withoutTerminalCodes(line: string): string {
  return line.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b[@-Z\\-_]/g, '');
}

/**
 * The classic builder's error when an image it took from its cache was removed before the step's new image was
 * committed on it: another build's old release was pruned with the intermediate images both builds shared.
 */
const LOST_CACHE = /unknown parent image ID|failed to set parent/i;

/**
 * Builds an image from a folder. A build whose cached parent image was removed under it (LOST_CACHE) is built once
 * more: the steps it had taken from that cache are run again.
 */
export async function buildImage(docker: Docker, opts: BuildImageOptions): Promise<void> {
  try {
    await buildOnce(docker, opts);
  } catch (err) {
    if (!(err instanceof DockerError) || !LOST_CACHE.test(err.message)) throw err;
    opts.onLine?.('an image this build took from the build cache was removed meanwhile; building again');
    await buildOnce(docker, opts);
  }
}

async function buildOnce(docker: Docker, opts: BuildImageOptions): Promise<void> {
  const { readdirSync, statSync } = await import('node:fs');
  const { join, relative } = await import('node:path');
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const full = join(d, e);
      if (statSync(full).isDirectory()) walk(full);
      else files.push(relative(opts.contextDir, full));
    }
  };
  walk(opts.contextDir);
  const memory = opts.memoryMb ? opts.memoryMb * 1024 * 1024 : undefined;
  const stream = (await docker.buildImage(
    { context: opts.contextDir, src: files },
    {
      t: opts.tag,
      dockerfile: opts.dockerfile ?? 'Dockerfile',
      ...(opts.target ? { target: opts.target } : {}),
      buildargs: opts.buildArgs,
      labels: opts.labels,
      rm: true,
      forcerm: true,
      nocache: opts.noCache ?? false,
      ...(memory ? { memory, memswap: memory } : {}),
      ...buildCpuOptions(opts.cpus),
    },
  )) as Readable;
  let failure: string | undefined;
  let timedOut = false;
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        // Closing the connection cancels the build in the Engine.
        stream.destroy();
      }, opts.timeoutMs)
    : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      stream.on('close', () =>
        timedOut ? reject(new DockerError(`building ${opts.tag} took longer than ${Math.round(opts.timeoutMs! / 1000)} s and was stopped`)) : undefined,
      );
      docker.modem.followProgress(
        stream,
        (err: Error | null) => (timedOut ? undefined : err ? reject(err) : resolve()),
        (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
          if (event.error) failure = event.errorDetail?.message ?? event.error;
          for (const line of (event.stream ?? '').split('\n')) {
            const text = withoutTerminalCodes(line).trimEnd();
            if (text) opts.onLine?.(text);
          }
        },
      );
    });
  } finally {
    clearTimeout(timer);
  }
  if (failure) throw new DockerError(`building ${opts.tag} failed: ${failure}`);
}

/** A registry's user and password, for the registry at `serveraddress` only. */
export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** Pushes an image to the registry its name starts with. */
export async function pushImage(docker: Docker, tag: string, auth?: RegistryAuth): Promise<void> {
  const colon = tag.lastIndexOf(':');
  const [name, version] = colon > tag.lastIndexOf('/') ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, 'latest'];
  const stream = (await docker.getImage(checkName('image', name)).push({ tag: version, authconfig: auth ?? {} })) as Readable;
  let failure: string | undefined;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { error?: string }) => {
        if (event.error) failure = event.error;
      },
    );
  });
  if (failure) throw new DockerError(`pushing ${tag} failed: ${failure}`);
}

/** Gives an image a second name (`source` and `target` are full references; a target without a tag is `latest`). */
export async function tagImage(docker: Docker, source: string, target: string): Promise<void> {
  const colon = target.lastIndexOf(':');
  const [repo, tag] = colon > target.lastIndexOf('/') ? [target.slice(0, colon), target.slice(colon + 1)] : [target, 'latest'];
  await docker.getImage(checkName('image', source)).tag({ repo: checkName('image', repo), tag });
}

/** Image tags carrying these labels, with each image's labels. */
export async function listImages(docker: Docker, labels: Record<string, string>): Promise<{ id: string; tags: string[]; labels?: Record<string, string> }[]> {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  const list = await docker.listImages({ filters: JSON.stringify(filters) });
  return list.map((i) => ({ id: i.Id, tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>'), labels: i.Labels ?? {} }));
}

/** Removes an image tag; an image a container still uses is left (409) and reported false. */
export async function removeImage(docker: Docker, tag: string): Promise<boolean> {
  try {
    await docker.getImage(checkName('image', tag)).remove({ force: false });
    return true;
  } catch (err) {
    if (statusOf(err) === 404) return true;
    if (statusOf(err) === 409) return false;
    throw err;
  }
}

export async function pullImage(docker: Docker, ref: string, auth?: RegistryAuth): Promise<void> {
  const stream = await docker.pull(checkName('image', ref), auth ? { authconfig: auth } : {});
  let failure: string | undefined;
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(
      stream as Readable,
      (err: Error | null) => (err ? reject(err) : resolve()),
      (event: { error?: string }) => {
        if (event.error) failure = event.error;
      },
    );
  });
  if (failure) throw new DockerError(failure);
}
