import Docker from 'dockerode';
import type { Readable } from 'node:stream';

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

export interface CreateContainerOptions {
  name: string;
  image: string;
  command?: string[];
  user?: string;
  hostname: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  ports: { containerPort: number; publish: boolean }[];
  volumes: { name: string; path: string }[];
  network: string;
  aliases: string[];
  /** The host address published ports bind to: loopback unless the node serves routers on other hosts. */
  publishIp: string;
  memoryMb: number;
  cpus: number;
  pids: number;
}

export interface BuildImageOptions {
  contextDir: string;
  tag: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  /** Ignore Docker's layer cache (a cold build). */
  noCache?: boolean;
  /** The Dockerfile's path inside the context (default: Dockerfile). */
  dockerfile?: string;
  /** Limits of the build's containers. */
  memoryMb?: number;
  /** The build is cancelled after this long. */
  timeoutMs?: number;
  onLine?: (line: string) => void;
}

export interface RunOnceOptions {
  name: string;
  image: string;
  command: string[];
  env: Record<string, string>;
  labels: Record<string, string>;
  /** The network to join; Docker's default bridge when it does not exist. */
  network?: string;
  memoryMb: number;
  timeoutMs: number;
  onLine: (line: string) => void;
}

export class DockerError extends Error {
  constructor(message: string, readonly statusCode?: number) {
    super(message);
    this.name = 'DockerError';
  }
}

const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode;

/**
 * Image references and object names travel in the Engine's URL paths. The Engine answers a path its router would
 * clean (`//`, a `.` or `..` segment: `file:///etc/passwd`) with a redirect, and the Docker client follows it to a
 * host named after the path, on a request no one listens to for errors: the process would die. So only what
 * Docker's own grammar allows leaves here, whoever sent it; the rest is refused as bad input (400).
 */
export function checkName(what: string, value: string): string {
  const bad = (rule: string) => new DockerError(`${what} "${String(value).slice(0, 200)}" ${rule}`, 400);
  if (typeof value !== 'string' || value.length === 0) throw bad('is empty');
  if (value.length > 512) throw bad('is longer than 512 characters');
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(value)) throw bad('may hold only letters, digits and . _ - / : @, and must start with a letter or digit');
  if (/\/\/|\/\.|\/$/.test(value)) throw bad('has an empty or dot path segment');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw bad('is a URL, not an image reference');
  return value;
}

/** The node agent's only door to the Docker Engine: typed methods, option objects, idempotent ensure/remove calls. */
export class DockerAdapter {
  private readonly docker: Docker;

  constructor(socketPath = process.env.DOCKER_SOCKET || '/var/run/docker.sock') {
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
      addresses: Object.fromEntries(Object.entries(c.NetworkSettings?.Networks ?? {}).filter(([, n]) => n.IPAddress).map(([name, n]) => [name, n.IPAddress])),
    }));
  }

  async imageExists(tag: string): Promise<boolean> {
    try {
      await this.docker.getImage(checkName('image', tag)).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /** Builds an image from a folder; the build's own error message is thrown when it fails. */
  async buildImage(opts: BuildImageOptions): Promise<void> {
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
    const stream = (await this.docker.buildImage(
      { context: opts.contextDir, src: files },
      {
        t: opts.tag,
        dockerfile: opts.dockerfile ?? 'Dockerfile',
        buildargs: opts.buildArgs,
        labels: opts.labels,
        rm: true,
        forcerm: true,
        nocache: opts.noCache ?? false,
        ...(memory ? { memory, memswap: memory } : {}),
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
        stream.on('close', () => (timedOut ? reject(new DockerError(`building ${opts.tag} took longer than ${Math.round(opts.timeoutMs! / 1000)} s and was stopped`)) : undefined));
        this.docker.modem.followProgress(
          stream,
          (err: Error | null) => (timedOut ? undefined : err ? reject(err) : resolve()),
          (event: { stream?: string; error?: string; errorDetail?: { message?: string } }) => {
            if (event.error) failure = event.errorDetail?.message ?? event.error;
            for (const line of (event.stream ?? '').split('\n')) {
              const text = line.trimEnd();
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

  /** Pushes an image to the registry its name starts with. */
  async pushImage(tag: string): Promise<void> {
    const colon = tag.lastIndexOf(':');
    const [name, version] = colon > tag.lastIndexOf('/') ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, 'latest'];
    const stream = (await this.docker.getImage(checkName('image', name)).push({ tag: version, authconfig: {} })) as Readable;
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()), (event: { error?: string }) => {
        if (event.error) failure = event.error;
      });
    });
    if (failure) throw new DockerError(`pushing ${tag} failed: ${failure}`);
  }

  /** Image tags carrying these labels. */
  async listImages(labels: Record<string, string>): Promise<{ id: string; tags: string[] }[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const list = await this.docker.listImages({ filters: JSON.stringify(filters) });
    return list.map((i) => ({ id: i.Id, tags: (i.RepoTags ?? []).filter((t) => t !== '<none>:<none>') }));
  }

  /** Removes an image tag; an image a container still uses is left (409) and reported false. */
  async removeImage(tag: string): Promise<boolean> {
    try {
      await this.docker.getImage(checkName('image', tag)).remove({ force: false });
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return true;
      if (statusOf(err) === 409) return false;
      throw err;
    }
  }

  async networkExists(name: string): Promise<boolean> {
    try {
      await this.docker.getNetwork(checkName('network', name)).inspect();
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  /**
   * Runs a command once in a new container of an image, streaming its output, and removes the container. Returns
   * the exit code; a command still running after the timeout is killed (exit code -1).
   */
  async runOnce(o: RunOnceOptions): Promise<number> {
    const network = o.network && (await this.networkExists(o.network)) ? o.network : undefined;
    const container = await this.docker.createContainer({
      name: o.name,
      Image: o.image,
      Cmd: o.command,
      Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      Labels: o.labels,
      HostConfig: { Memory: o.memoryMb * 1024 * 1024, MemorySwap: o.memoryMb * 1024 * 1024, NetworkMode: network ?? 'bridge' },
    });
    try {
      const stream = (await container.attach({ stream: true, stdout: true, stderr: true, logs: true })) as unknown as Readable;
      let pending = '';
      const emit = (text: string) => {
        pending += text;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) o.onLine(l.trimEnd());
      };
      const { PassThrough } = await import('node:stream');
      const out = new PassThrough();
      out.on('data', (c: Buffer) => emit(c.toString('utf8')));
      // The attached output is only a view: a broken connection loses lines, not the outcome, which wait() gives.
      stream.on('error', (err) => o.onLine(`(output interrupted: ${err.message})`));
      this.docker.modem.demuxStream(stream, out, out);
      await container.start();
      const timer = setTimeout(() => void container.kill().catch(() => undefined), o.timeoutMs);
      const result = (await container.wait().finally(() => clearTimeout(timer))) as { StatusCode: number };
      await new Promise((r) => setTimeout(r, 50));
      if (pending) o.onLine(pending.trimEnd());
      return result.StatusCode;
    } finally {
      await container.remove({ force: true }).catch(() => undefined);
    }
  }

  async pullImage(ref: string): Promise<void> {
    const stream = await this.docker.pull(checkName('image', ref));
    let failure: string | undefined;
    await new Promise<void>((resolve, reject) => {
      this.docker.modem.followProgress(stream as Readable, (err: Error | null) => (err ? reject(err) : resolve()), (event: { error?: string }) => {
        if (event.error) failure = event.error;
      });
    });
    if (failure) throw new DockerError(failure);
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

  async createContainer(o: CreateContainerOptions): Promise<string> {
    const exposed = Object.fromEntries(o.ports.map((p) => [`${p.containerPort}/tcp`, {}]));
    const bindings = Object.fromEntries(o.ports.filter((p) => p.publish).map((p) => [`${p.containerPort}/tcp`, [{ HostIp: o.publishIp, HostPort: '' }]]));
    const container = await this.docker.createContainer({
      name: o.name,
      Image: o.image,
      Cmd: o.command,
      User: o.user,
      Hostname: o.hostname,
      Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
      Labels: o.labels,
      ExposedPorts: exposed,
      StopTimeout: 10,
      HostConfig: {
        PortBindings: bindings,
        Memory: o.memoryMb * 1024 * 1024,
        MemorySwap: o.memoryMb * 1024 * 1024,
        NanoCpus: Math.round(o.cpus * 1e9),
        PidsLimit: o.pids,
        RestartPolicy: { Name: 'unless-stopped' },
        // A small init as PID 1 passes signals on, so an app with no SIGTERM handler still stops at once.
        Init: true,
        Mounts: o.volumes.map((v) => ({ Type: 'volume' as const, Source: v.name, Target: v.path })),
        NetworkMode: o.network,
        LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      },
      NetworkingConfig: { EndpointsConfig: { [o.network]: { Aliases: o.aliases } } },
    });
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
      await this.docker.getContainer(checkName('container', id)).remove({ force: true, v: false });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
  }

  async inspectContainer(id: string): Promise<{ state: string; exitCode: number; ip: Record<string, string>; publishedPorts: Record<number, number> }> {
    const info = await this.docker.getContainer(checkName('container', id)).inspect();
    const ports: Record<number, number> = {};
    for (const [key, binds] of Object.entries(info.NetworkSettings.Ports ?? {})) {
      const hostPort = binds?.[0]?.HostPort;
      if (hostPort) ports[Number(key.split('/')[0])] = Number(hostPort);
    }
    const ip = Object.fromEntries(Object.entries(info.NetworkSettings.Networks ?? {}).map(([n, v]) => [n, v.IPAddress]));
    return { state: info.State.Status, exitCode: info.State.ExitCode, ip, publishedPorts: ports };
  }

  /** A container's addresses by network and its environment. */
  async inspectFull(id: string): Promise<{ ip: Record<string, string>; env: Record<string, string> }> {
    const info = await this.docker.getContainer(checkName('container', id)).inspect();
    const ip = Object.fromEntries(Object.entries(info.NetworkSettings.Networks ?? {}).map(([n, v]) => [n, v.IPAddress]));
    const env = Object.fromEntries((info.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    return { ip, env };
  }

  /** Runs a command in a container and returns its exit code and output. */
  async exec(id: string, command: string[]): Promise<{ exitCode: number; output: string }> {
    const exec = await this.docker.getContainer(checkName('container', id)).exec({ Cmd: command, AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    const info = await exec.inspect();
    return { exitCode: info.ExitCode ?? -1, output: demux(Buffer.concat(chunks)) };
  }

  /**
   * A container's output, line by line: the last `tail` lines (all of them when negative), then new ones while
   * following. Returns a function that stops following.
   */
  async streamLogs(id: string, opts: { tail: number; follow: boolean; since?: number }, onLine: (line: string, stream: 'stdout' | 'stderr') => void, onEnd: () => void): Promise<() => void> {
    const { PassThrough } = await import('node:stream');
    // Docker's default is all of it.
    const tail = opts.tail < 0 ? undefined : opts.tail;
    const container = this.docker.getContainer(checkName('container', id));
    const split = (stream: 'stdout' | 'stderr') => {
      const pass = new PassThrough();
      let pending = '';
      pass.on('data', (c: Buffer) => {
        pending += c.toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const l of lines) onLine(l.trimEnd(), stream);
      });
      pass.on('end', () => pending && onLine(pending, stream));
      return pass;
    };
    const out = split('stdout');
    const err = split('stderr');
    if (!opts.follow) {
      const buf = (await container.logs({ stdout: true, stderr: true, tail, follow: false })) as unknown as Buffer;
      for (const [stream, text] of frames(buf)) (stream === 'stderr' ? err : out).write(text);
      out.end();
      err.end();
      setImmediate(onEnd);
      return () => undefined;
    }
    const stream = (await container.logs({ stdout: true, stderr: true, tail, follow: true, ...(opts.since ? { since: opts.since } : {}) })) as unknown as Readable;
    this.docker.modem.demuxStream(stream, out, err);
    stream.on('end', () => {
      out.end();
      err.end();
      onEnd();
    });
    stream.on('error', () => onEnd());
    return () => stream.destroy();
  }

  /**
   * Runs a command in a container with its stdout going to `stdout` (a file, say) and, when given, `stdin` fed
   * from a stream; returns the exit code and what it said on stderr.
   */
  async execStreams(id: string, command: string[], io: { stdout?: NodeJS.WritableStream; stdin?: NodeJS.ReadableStream }): Promise<{ exitCode: number; stderr: string }> {
    const { PassThrough, Writable } = await import('node:stream');
    const exec = await this.docker.getContainer(checkName('container', id)).exec({ Cmd: command, AttachStdout: true, AttachStderr: true, AttachStdin: Boolean(io.stdin) });
    const stream = (await exec.start({ hijack: true, stdin: Boolean(io.stdin) })) as unknown as import('node:stream').Duplex;
    let stderr = '';
    const err = new Writable({
      write(chunk: Buffer, _enc, done) {
        stderr = (stderr + chunk.toString('utf8')).slice(-4000);
        done();
      },
    });
    const out = io.stdout ?? new PassThrough().resume();
    // A file that cannot be written or read (a full disk, a missing file) fails this call, not the process.
    const finished = new Promise<void>((resolve, reject) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
      (out as NodeJS.WritableStream).on('error', (e: Error) => {
        stream.destroy();
        reject(e);
      });
      io.stdin?.on('error', (e: Error) => {
        stream.destroy();
        reject(e);
      });
    });
    this.docker.modem.demuxStream(stream, out as NodeJS.WritableStream, err);
    if (io.stdin) {
      io.stdin.on('data', (c: Buffer) => stream.write(c));
      io.stdin.on('end', () => stream.end());
    }
    await finished;
    let info = await exec.inspect();
    for (let i = 0; info.Running && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      info = await exec.inspect();
    }
    return { exitCode: info.ExitCode ?? -1, stderr };
  }

  /** The last lines a container wrote, for error messages. */
  async logTail(id: string, lines: number): Promise<string> {
    try {
      const buf = (await this.docker.getContainer(checkName('container', id)).logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      return demux(buf).trim();
    } catch {
      return '';
    }
  }
}

/** The frames of Docker's multiplexed output: which stream, and what it said. */
function frames(buf: Buffer): ['stdout' | 'stderr', Buffer][] {
  const out: ['stdout' | 'stderr', Buffer][] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out.push([buf[i] === 2 ? 'stderr' : 'stdout', buf.subarray(i + 8, i + 8 + size)]);
    i += 8 + size;
  }
  return i === 0 && buf.length > 0 ? [['stdout', buf]] : out;
}

/** Docker multiplexes stdout and stderr in 8-byte framed chunks when there is no TTY. */
function demux(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + size).toString('utf8');
    i += 8 + size;
  }
  return i === 0 ? buf.toString('utf8') : out;
}
