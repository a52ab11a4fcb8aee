import Docker from 'dockerode';
import { namesPlatformRegistry, parseImageReference } from '@gearshift/cartridges';
import { execIn, execStreams, logTail, runOnce, streamLogs, type LogStreamOptions, type RunOnceOptions } from './docker-exec';
import { execTerminal, runTerminal, type TerminalOptions } from './docker-terminal';
import {
  buildImage,
  imageExists,
  inspectImageNames,
  listImages,
  pullImage,
  pushImage,
  removeImage,
  tagImage,
  type BuildImageOptions,
  type RegistryAuth,
} from './docker-images';
import { checkName, statusOf } from './docker-names';
import { diskUsage, pruneBuildCache, removeImageRef } from './docker-disk';
import type { DiskUsage } from './disk-gc';
import { confinementHostConfig, type Confinement } from './docker-confinement';

export { checkName, DockerError } from './docker-names';
export type { BuildImageOptions } from './docker-images';
export type { RunOnceOptions } from './docker-exec';

/** A container of Gearshift's as the agent sees it, read from Docker's labels and state. */
export interface ObservedContainer {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** Docker's state: created, running, paused, restarting, removing, exited, dead. */
  state: string;
  /** Host ports published on loopback, by container port. */
  publishedPorts: Record<number, number>;
  /** Its address on each network it joined, by network name. */
  addresses: Record<string, string>;
}

export interface CreateContainerOptions extends Confinement {
  name: string;
  image: string;
  command?: string[];
  /** Replaces the image's ENTRYPOINT; an empty list runs the image with none. */
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  hostname: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  ports: { containerPort: number; publish: boolean }[];
  volumes: { name: string; path: string }[];
  /** Paths given a volume of the container's own: filled from the image there, and removed with the container. */
  anonymousVolumes?: string[];
  network: string;
  aliases: string[];
  /** The host address published ports bind to: loopback unless the node serves routers on other hosts. */
  publishIp: string;
}

/** The node agent's only door to the Docker Engine: typed methods, option objects, idempotent ensure/remove calls. */
export class DockerAdapter {
  private readonly docker: Docker;
  /** The platform registry's credentials: sent with pushes and pulls of its images, to no other registry. */
  private registryAuth?: RegistryAuth;

  constructor(
    socketPath = process.env.DOCKER_SOCKET || '/var/run/docker.sock',
    /** The size at which the Engine rotates a gear's log file (GEARSHIFT_GEAR_LOG_MAX_SIZE). */
    private readonly gearLog: { maxSize: string } = { maxSize: '10m' },
  ) {
    this.docker = new Docker({ socketPath });
  }

  async ping(): Promise<void> {
    await this.docker.ping();
  }

  async listContainers(labels: Record<string, string>): Promise<ObservedContainer[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const list = await this.docker.listContainers({ all: true, filters: JSON.stringify(filters) });
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      labels: c.Labels ?? {},
      state: c.State,
      publishedPorts: Object.fromEntries((c.Ports ?? []).filter((p) => p.PublicPort).map((p) => [p.PrivatePort, p.PublicPort])),
      addresses: Object.fromEntries(
        Object.entries(c.NetworkSettings?.Networks ?? {})
          .filter(([, n]) => n.IPAddress)
          .map(([name, n]) => [name, n.IPAddress]),
      ),
    }));
  }

  /**
   * What each running container with these labels wrote to its own filesystem (its writable layer, not its volumes),
   * in bytes, by container id: the Engine sums it per container when asked for sizes.
   */
  async writtenBytes(labels: Record<string, string>): Promise<Map<string, number>> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`), status: ['running'] };
    const list = await this.docker.listContainers({ size: true, filters: JSON.stringify(filters) });
    // dockerode types no SizeRw, which the Engine adds when asked for sizes.
    return new Map(list.map((c) => [c.Id, (c as { SizeRw?: number }).SizeRw ?? 0]));
  }

  /**
   * A container's CPU time since it started and its memory less the reclaimable page cache (as `docker stats` counts
   * it), from one sample; null for a container that is gone or not running.
   */
  async containerUsage(id: string): Promise<{ cpuSeconds: number; memoryBytes: number } | null> {
    try {
      const s = await this.docker.getContainer(id).stats({ stream: false, 'one-shot': true });
      const total = s.cpu_stats?.cpu_usage?.total_usage;
      if (typeof total !== 'number' || typeof s.memory_stats?.usage !== 'number') return null;
      const stats = (s.memory_stats.stats ?? {}) as unknown as Record<string, number | undefined>;
      // cgroup v1 names it total_inactive_file, v2 inactive_file.
      const cache = stats.total_inactive_file ?? stats.inactive_file ?? 0;
      return { cpuSeconds: total / 1e9, memoryBytes: Math.max(0, s.memory_stats.usage - cache) };
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  // Images: built from a folder, pulled, pushed to a registry, listed and removed (docker-images.ts).

  async imageExists(tag: string): Promise<boolean> {
    return imageExists(this.docker, tag);
  }

  /** The image a reference finds on this node, with its RepoTags and RepoDigests; null when there is none. */
  async inspectImageNames(ref: string): Promise<{ id: string; tags: string[]; digests: string[] } | null> {
    return inspectImageNames(this.docker, ref);
  }

  /** Builds an image from a folder; the build's own error message is thrown when it fails. */
  async buildImage(opts: BuildImageOptions): Promise<void> {
    return buildImage(this.docker, opts);
  }

  /** The registry at `server` (host:port) asks for this user and password. */
  useRegistry(server: string, credentials: { username: string; password: string }): void {
    this.registryAuth = { username: credentials.username, password: credentials.password, serveraddress: server };
  }

  /** The platform registry's host:port, once its credentials are known. */
  platformRegistry(): string | undefined {
    return this.registryAuth?.serveraddress;
  }

  /** Gives an image a second name. */
  async tagImage(source: string, target: string): Promise<void> {
    return tagImage(this.docker, source, target);
  }

  /** Whether an image is named in the platform registry, in any spelling (then the agent's credentials go with it). */
  inPlatformRegistry(ref: string): boolean {
    if (!this.registryAuth) return false;
    try {
      return namesPlatformRegistry(parseImageReference(ref), this.registryAuth.serveraddress);
    } catch {
      return false; // not a reference: Docker refuses it before any registry is asked
    }
  }

  private authFor(ref: string): RegistryAuth | undefined {
    return this.inPlatformRegistry(ref) ? this.registryAuth : undefined;
  }

  /** Pushes an image to the registry its name starts with. */
  async pushImage(tag: string): Promise<void> {
    return pushImage(this.docker, tag, this.authFor(tag));
  }

  /** Image tags carrying these labels, with each image's labels. */
  async listImages(labels: Record<string, string>): Promise<{ id: string; tags: string[]; labels?: Record<string, string> }[]> {
    return listImages(this.docker, labels);
  }

  /** Removes an image tag; an image a container still uses is left (409) and reported false. */
  async removeImage(tag: string): Promise<boolean> {
    return removeImage(this.docker, tag);
  }

  async pullImage(ref: string): Promise<void> {
    return pullImage(this.docker, ref, this.authFor(ref));
  }

  // The disk: what it holds, and pruning it (docker-disk.ts).

  async diskUsage(): Promise<DiskUsage> {
    return diskUsage(this.docker);
  }

  /** Removes an image by id or tag; one a container uses is left and reported false. */
  async removeImageRef(ref: string): Promise<boolean> {
    return removeImageRef(this.docker, ref);
  }

  /** Prunes the build cache down to `keepBytes`; returns the bytes freed. */
  async pruneBuildCache(keepBytes: number): Promise<number> {
    return pruneBuildCache(this.docker, keepBytes);
  }

  // Commands in containers and what containers print (docker-exec.ts).

  /**
   * Runs a command once in a new container of an image, streaming its output, and removes the container. Returns
   * the exit code; a command still running after the timeout is killed (exit code -1). The container joins
   * `network` when it exists, Docker's default bridge otherwise.
   */
  async runOnce(o: RunOnceOptions): Promise<number> {
    const network = o.network && (await this.networkExists(o.network)) ? o.network : undefined;
    return runOnce(this.docker, { ...o, network });
  }

  /** As runOnce, with a terminal and/or an input (`gearshift run -it`). */
  async runTerminal(o: RunOnceOptions & TerminalOptions): Promise<number> {
    const network = o.network && (await this.networkExists(o.network)) ? o.network : undefined;
    return runTerminal(this.docker, { ...o, network });
  }

  /** Runs a command in a running container, its output streamed, with a terminal and/or an input when asked. */
  async execTerminal(id: string, command: string[], o: TerminalOptions): Promise<number> {
    return execTerminal(this.docker, id, command, o);
  }

  /** Runs a command in a container and returns its exit code and output. */
  async exec(id: string, command: string[]): Promise<{ exitCode: number; output: string }> {
    return execIn(this.docker, id, command);
  }

  /**
   * A container's output, line by line: the last `tail` lines (all of them when negative), then new ones while
   * following, past the rotations of its log file. Returns a function that stops following.
   */
  async streamLogs(id: string, opts: LogStreamOptions, onLine: (line: string, stream: 'stdout' | 'stderr') => void, onEnd: () => void): Promise<() => void> {
    return streamLogs(this.docker, id, opts, onLine, onEnd);
  }

  /**
   * Runs a command in a container with its stdout going to `stdout` (a file, say) and, when given, `stdin` fed
   * from a stream; returns the exit code and what it said on stderr.
   */
  async execStreams(
    id: string,
    command: string[],
    io: { stdout?: NodeJS.WritableStream; stdin?: NodeJS.ReadableStream },
  ): Promise<{ exitCode: number; stderr: string }> {
    return execStreams(this.docker, id, command, io);
  }

  /** The last lines a container wrote, for error messages. */
  async logTail(id: string, lines: number): Promise<string> {
    return logTail(this.docker, id, lines);
  }

  // Networks and volumes of apps.

  async networkExists(name: string): Promise<boolean> {
    try {
      await this.docker.getNetwork(checkName('network', name)).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    const existing = await this.docker.listNetworks({ filters: JSON.stringify({ name: [name] }) });
    if (existing.some((n) => n.Name === name)) return;
    try {
      await this.docker.createNetwork({ Name: name, Driver: 'bridge', Labels: labels, CheckDuplicate: true });
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }

  async listNetworks(labels: Record<string, string>): Promise<string[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    return (await this.docker.listNetworks({ filters: JSON.stringify(filters) })).map((n) => n.Name);
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      await this.docker.getNetwork(checkName('network', name)).remove();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.docker.getVolume(checkName('volume', name)).inspect();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      await this.docker.createVolume({ Name: name, Labels: labels });
    }
  }

  async listVolumes(labels: Record<string, string>): Promise<string[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const res = await this.docker.listVolumes({ filters: JSON.stringify(filters) });
    return (res.Volumes ?? []).map((v) => v.Name);
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(checkName('volume', name)).remove({ force: true });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  // Containers of gears.

  async createContainer(o: CreateContainerOptions): Promise<string> {
    const container = await this.docker.createContainer(gearContainerOptions(o, this.gearLog.maxSize));
    return container.id;
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(checkName('container', id)).start();
    } catch (err) {
      if (statusOf(err) !== 304) throw err;
    }
  }

  async stopContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(checkName('container', id)).stop({ t: 10 });
    } catch (err) {
      if (statusOf(err) !== 304 && statusOf(err) !== 404) throw err;
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      // `v` removes the container's anonymous volumes only (its own, made with it); named volumes, which hold the
      // data of databases and services across releases, are never removed by it.
      await this.docker.getContainer(checkName('container', id)).remove({ force: true, v: true });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  async inspectContainer(id: string): Promise<{
    state: string;
    exitCode: number;
    restartCount: number;
    startedAt?: number;
    ip: Record<string, string>;
    publishedPorts: Record<number, number>;
  }> {
    const info = await this.docker.getContainer(checkName('container', id)).inspect();
    const ports: Record<number, number> = {};
    for (const [key, binds] of Object.entries(info.NetworkSettings.Ports ?? {})) {
      const hostPort = binds?.[0]?.HostPort;
      if (hostPort) ports[Number(key.split('/')[0])] = Number(hostPort);
    }
    const ip = Object.fromEntries(Object.entries(info.NetworkSettings.Networks ?? {}).map(([n, v]) => [n, v.IPAddress]));
    // A container never started says 0001-01-01, which is no start at all.
    const startedAt = Date.parse(info.State.StartedAt ?? '');
    return {
      state: info.State.Status,
      exitCode: info.State.ExitCode,
      restartCount: info.RestartCount ?? 0,
      ...(startedAt > 0 ? { startedAt } : {}),
      ip,
      publishedPorts: ports,
    };
  }

  /** A container's addresses by network and its environment. */
  async inspectFull(id: string): Promise<{ ip: Record<string, string>; env: Record<string, string> }> {
    const info = await this.docker.getContainer(checkName('container', id)).inspect();
    const ip = Object.fromEntries(Object.entries(info.NetworkSettings.Networks ?? {}).map(([n, v]) => [n, v.IPAddress]));
    const env = Object.fromEntries((info.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    return { ip, env };
  }
}

/** What the Engine is asked for to create a gear's container. */
export function gearContainerOptions(o: CreateContainerOptions, logMaxSize = '10m'): Docker.ContainerCreateOptions {
  const exposed = Object.fromEntries(o.ports.map((p) => [`${p.containerPort}/tcp`, {}]));
  const bindings = Object.fromEntries(o.ports.filter((p) => p.publish).map((p) => [`${p.containerPort}/tcp`, [{ HostIp: o.publishIp, HostPort: '' }]]));
  return {
    name: o.name,
    Image: o.image,
    Cmd: o.command,
    ...(o.entrypoint ? { Entrypoint: o.entrypoint } : {}),
    ...(o.workingDir ? { WorkingDir: o.workingDir } : {}),
    User: o.user,
    Hostname: o.hostname,
    Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
    Labels: o.labels,
    ExposedPorts: exposed,
    StopTimeout: 10,
    HostConfig: {
      PortBindings: bindings,
      ...confinementHostConfig(o),
      RestartPolicy: { Name: 'unless-stopped' },
      // A small init as PID 1 passes signals on, so an app with no SIGTERM handler still stops at once.
      Init: true,
      // A volume with an empty source is anonymous: the Engine makes it with the container and copies the image's
      // content at that path into it.
      Mounts: [
        ...o.volumes.map((v) => ({ Type: 'volume' as const, Source: v.name, Target: v.path })),
        ...(o.anonymousVolumes ?? []).map((path) => ({ Type: 'volume' as const, Source: '', Target: path })),
      ],
      NetworkMode: o.network,
      // Three files of logMaxSize each: what a chatty gear wrote before them is gone, and followers re-attach past
      // each rotation (see streamLogs).
      LogConfig: { Type: 'json-file', Config: { 'max-size': logMaxSize, 'max-file': '3' } },
    },
    NetworkingConfig: { EndpointsConfig: { [o.network]: { Aliases: o.aliases } } },
  };
}
