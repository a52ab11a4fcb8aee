import { randomBytes } from 'node:crypto';
import type { CreateContainerOptions, DockerAdapter, ObservedContainer } from './docker.adapter';

interface Held extends ObservedContainer {
  exitCode: number;
}

/**
 * A Docker Engine in memory, for the scale simulation: the node agent's own code (queue worker, converge, heartbeats)
 * runs on it as on a host, while containers, networks and volumes are entries in maps and every image exists. Every
 * published port is `servingPort`, where one HTTP server of the simulation answers the gears' health checks.
 * Only what the converge, remove, heartbeat and usage paths call is here; builds, snapshots, logs and one-off
 * commands are refused.
 */
export class MemoryDocker {
  readonly containers = new Map<string, Held>();
  private readonly networks = new Map<string, Record<string, string>>();
  private readonly volumes = new Map<string, Record<string, string>>();

  constructor(private readonly servingPort: number) {}

  /** As the adapter it stands in for. */
  asAdapter(): DockerAdapter {
    return this as unknown as DockerAdapter;
  }

  async ping(): Promise<void> {}

  async listContainers(labels: Record<string, string>): Promise<ObservedContainer[]> {
    return [...this.containers.values()].filter((c) => matches(c.labels, labels)).map(({ exitCode: _exitCode, ...c }) => ({ ...c }));
  }

  /** What the simulated gears wrote: nothing, unless a test sets it in `written`. */
  readonly written = new Map<string, number>();

  async writtenBytes(labels: Record<string, string>): Promise<Map<string, number>> {
    const running = [...this.containers.values()].filter((c) => c.state === 'running' && matches(c.labels, labels));
    return new Map(running.map((c) => [c.id, this.written.get(c.id) ?? 0]));
  }

  async containerUsage(id: string): Promise<{ cpuSeconds: number; memoryBytes: number } | null> {
    return this.containers.get(id)?.state === 'running' ? { cpuSeconds: 0.01, memoryBytes: 32 * 1024 * 1024 } : null;
  }

  async imageExists(): Promise<boolean> {
    return true;
  }

  async inspectImageNames(ref: string): Promise<{ id: string; tags: string[]; digests: string[] } | null> {
    return { id: `sha256:${ref}`, tags: [ref], digests: [] };
  }

  platformRegistry(): string | undefined {
    return undefined;
  }

  inPlatformRegistry(): boolean {
    return false;
  }

  useRegistry(): void {}

  async tagImage(): Promise<void> {}
  async pullImage(): Promise<void> {}

  async listImages(): Promise<{ id: string; tags: string[] }[]> {
    return [];
  }

  async removeImage(): Promise<boolean> {
    return false;
  }

  async exec(): Promise<{ exitCode: number; output: string }> {
    return { exitCode: 0, output: '' };
  }

  async logTail(): Promise<string> {
    return '';
  }

  async networkExists(name: string): Promise<boolean> {
    return this.networks.has(name);
  }

  async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    if (!this.networks.has(name)) this.networks.set(name, labels);
  }

  async listNetworks(labels: Record<string, string>): Promise<string[]> {
    return [...this.networks].filter(([, l]) => matches(l, labels)).map(([n]) => n);
  }

  async removeNetwork(name: string): Promise<void> {
    this.networks.delete(name);
  }

  async ensureVolume(name: string, labels: Record<string, string>): Promise<void> {
    if (!this.volumes.has(name)) this.volumes.set(name, labels);
  }

  async listVolumes(labels: Record<string, string>): Promise<string[]> {
    return [...this.volumes].filter(([, l]) => matches(l, labels)).map(([n]) => n);
  }

  async removeVolume(name: string): Promise<void> {
    this.volumes.delete(name);
  }

  async createContainer(o: CreateContainerOptions): Promise<string> {
    if ([...this.containers.values()].some((c) => c.name === o.name)) throw new Error(`Conflict. The container name "/${o.name}" is already in use`);
    const id = randomBytes(32).toString('hex');
    const publishedPorts = Object.fromEntries(o.ports.filter((p) => p.publish).map((p) => [p.containerPort, this.servingPort]));
    this.containers.set(id, { id, name: o.name, labels: { ...o.labels }, state: 'created', publishedPorts, addresses: {}, exitCode: 0 });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.require(id).state = 'running';
  }

  async stopContainer(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (c) c.state = 'exited';
  }

  async removeContainer(id: string): Promise<void> {
    this.containers.delete(id);
  }

  async inspectContainer(
    id: string,
  ): Promise<{ state: string; exitCode: number; restartCount: number; ip: Record<string, string>; publishedPorts: Record<number, number> }> {
    const c = this.require(id);
    return { state: c.state, exitCode: c.exitCode, restartCount: 0, ip: {}, publishedPorts: { ...c.publishedPorts } };
  }

  private require(id: string): Held {
    const c = this.containers.get(id);
    if (!c) throw Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 });
    return c;
  }
}

const matches = (have: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);
