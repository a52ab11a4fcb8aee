import { LABELS, RESTRICTED_SECURITY, specHash, type GearReport, type GearSpec, type GearState } from '@gearshift/cartridges';
import type { AgentConfig } from './config';
import { DockerAdapter, type ObservedContainer } from './docker.adapter';
import { httpProbe, tcpProbe, waitHealthy, waitSettled, WORKER_SETTLE_MS, type Probe } from './health';
import { PermanentError } from './errors';
import { ImageBuilder, type StepReporter } from './images';
import { planConverge, settles, settlesFirst, startPrerequisites, type Action } from './reconcile';
import { allAtMost, atMost } from './at-most';
import { pruneReleaseImages } from './builder';
import { FailedGears } from './failed-gears';
import { epochOf, fencedContainers, HeldEpochs, staleGears } from './fencing';
import { join } from 'node:path';

export { PermanentError, type StepReporter };

/** How many containers one converge creates, starts, stops or removes at once. */
const START_CONCURRENCY = 4;

const stateOf = (dockerState: string): GearState =>
  dockerState === 'running' ? 'running' : dockerState === 'restarting' || dockerState === 'created' ? 'starting' : 'stopped';

/**
 * Turns gear specs into containers on this node and reports what runs. Every method is idempotent: it reads what
 * Docker has (by label), converges it to the spec, and can be run again after a crash half-way.
 */
export class GearOperator {
  readonly images: ImageBuilder;
  /** The output of gears that failed their rollout, for `logs` once their containers are gone. */
  readonly failedGears: FailedGears;
  /** The gear assignments this node holds (see fencing.ts). */
  readonly held = new HeldEpochs();

  constructor(
    private readonly config: AgentConfig,
    private readonly docker: DockerAdapter,
    private readonly nodeId: string,
  ) {
    this.images = new ImageBuilder(config, docker);
    this.failedGears = new FailedGears(join(config.dataDir, 'failed-gears', nodeId));
  }

  private baseLabels(): Record<string, string> {
    return { [LABELS.managedBy]: 'gearshift', [LABELS.instance]: this.config.instance, [LABELS.node]: this.nodeId };
  }

  private appLabels(appId: string): Record<string, string> {
    return { ...this.baseLabels(), [LABELS.app]: appId };
  }

  /** Every container of Gearshift's on this node, as reports for the broker. */
  async observe(): Promise<GearReport[]> {
    const containers = await this.docker.listContainers(this.baseLabels());
    this.held.learn(containers);
    return containers.filter((c) => c.labels[LABELS.gear]).map((c) => this.report(c));
  }

  /**
   * The broker's word that these gears are no longer this node's: their containers of older assignments go, and
   * jobs naming those assignments are refused from now on. Their volumes stay: a database's volume here may hold
   * rows newer than the snapshot it was restored from elsewhere, and an operator may want them.
   */
  async fence(gears: { gearId: string; appId: string; epoch: number }[], step: StepReporter): Promise<number> {
    for (const g of gears) this.held.raise(g.gearId, g.epoch);
    const doomed = fencedContainers(await this.docker.listContainers(this.baseLabels()), gears);
    for (const c of doomed) {
      await step(`removing container ${c.id.slice(0, 12)} of gear ${c.labels[LABELS.gear].slice(0, 8)}: it runs on another node now`);
      await this.docker.stopContainer(c.id);
      await this.docker.removeContainer(c.id);
    }
    return doomed.length;
  }

  private report(c: ObservedContainer, state?: GearState, message?: string): GearReport {
    const endpoints = JSON.parse(c.labels['gearshift.endpoints'] ?? '{}') as Record<string, number>;
    const ports = Object.fromEntries(
      Object.entries(endpoints)
        .filter(([, containerPort]) => c.publishedPorts[containerPort])
        .map(([name, containerPort]) => [name, c.publishedPorts[containerPort]]),
    );
    // A gear joins only its app's network.
    const address = Object.values(c.addresses)[0];
    return {
      gearId: c.labels[LABELS.gear],
      appId: c.labels[LABELS.app],
      state: state ?? stateOf(c.state),
      specHash: c.labels[LABELS.specHash],
      containerId: c.id,
      ports,
      ...(address && Object.keys(endpoints).length > 0 ? { inside: { address, ports: endpoints } } : {}),
      message,
      ...(epochOf(c.labels) ? { epoch: epochOf(c.labels) } : {}),
    };
  }

  /** Makes this node's containers of one app match `specs`, then waits for every started gear to be healthy. */
  async converge(
    appId: string,
    specs: GearSpec[],
    step: StepReporter,
    opts: {
      keepImages?: string[];
      after?: { gearId: string; command: string[] };
      drainMs?: number;
      log?: (line: string) => void;
      epochs?: Record<string, number>;
    } = {},
  ): Promise<GearReport[]> {
    const labels = this.appLabels(appId);
    const [containers, networks, volumes] = await Promise.all([
      this.docker.listContainers(labels),
      this.docker.listNetworks(labels),
      this.docker.listVolumes(labels),
    ]);
    this.held.learn(containers);
    // A job that waited in the queue while this node was lost may name gears that have moved since: it must not
    // start them again here, beside their new containers elsewhere.
    const stale = staleGears(opts.epochs, this.held);
    if (stale.length > 0) {
      throw new PermanentError(
        `stale job: gear(s) ${stale.map((g) => g.slice(0, 8)).join(', ')} have been taken from this node since it was sent (moved to another node, or gone)`,
      );
    }
    for (const [gearId, epoch] of Object.entries(opts.epochs ?? {})) this.held.raise(gearId, epoch);
    const epochs = opts.epochs ?? {};
    const plan = planConverge(specs, { containers, networks, volumes });
    // Images, networks and volumes do not depend on each other: prepare them together.
    await Promise.all([
      ...specs.filter((s) => s.running).map((spec) => this.images.ensure(spec.image, step)),
      ...plan.ensureNetworks.map((n) => this.ensureNetwork(n, labels)),
      ...plan.ensureVolumes.map((v) => {
        const owner = specs.find((s) => s.volumes.some((x) => x.name === v))!;
        return this.docker.ensureVolume(v, { ...labels, [LABELS.cartridge]: owner.cartridge });
      }),
    ]);
    // Gears others reach (their ports are published for routers and the app's gears on other nodes) that are going away.
    const removals = plan.actions.filter(
      (a) => a.kind === 'remove' && Object.keys(containers.find((c) => c.id === a.containerId)?.publishedPorts ?? {}).length > 0,
    ).length;
    if (opts.drainMs && removals > 0) {
      // The routers drop these gears first; requests still on their way finish before they stop.
      await step(`letting ${removals} old gear(s) drain for ${(opts.drainMs / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, opts.drainMs));
    }
    // The gears this pass leaves running as they are: those a new gear waits for are waited for through them. They may
    // still be starting (an agent that died right after creating them), so that wait is a quiet health check.
    const touched = new Set(plan.actions.flatMap((a) => (a.kind === 'remove' ? [] : [a.spec.gearId])));
    const serving = specs.flatMap((spec) => {
      const existing = spec.running && !touched.has(spec.gearId) && containers.find((c) => c.labels[LABELS.gear] === spec.gearId && c.state === 'running');
      return existing ? [{ spec, containerId: existing.id }] : [];
    });
    // Removals and stops first, side by side (a graceful stop may take its while); then the starts, each as soon as
    // what it waits for is healthy.
    const starts = plan.actions.filter((a): a is Exclude<Action, { kind: 'remove' | 'stop' }> => a.kind !== 'remove' && a.kind !== 'stop');
    const ends = plan.actions.filter((a) => a.kind === 'remove' || a.kind === 'stop');
    await allAtMost(
      START_CONCURRENCY,
      ends.map((a) => () => this.apply(a, step, epochs)),
    );
    await this.startAll(starts, serving, step, epochs);
    for (const n of plan.removeNetworks) await this.docker.removeNetwork(n);
    for (const v of plan.removeVolumes) {
      await step(`removing volume ${v}`);
      await this.docker.removeVolume(v);
    }
    const after = await this.docker.listContainers(labels);
    if (opts.after) await this.runAfter(after, opts.after, step, opts.log);
    if (opts.keepImages) {
      const removed = await pruneReleaseImages(this.docker, this.config.instance, appId, opts.keepImages);
      if (removed.length > 0) await step(`removed ${removed.length} old release image(s)`);
    }
    return after.map((c) => this.report(c));
  }

  /**
   * Creates or starts the gears of one pass, each once the gears it waits for (startPrerequisites) are healthy, and
   * waits for each to pass its health check: the services of a release start together, and the web gears once they
   * are up. A gear that waits for one left `serving` waits for that gear's check, quietly. A gear whose prerequisite
   * failed is not started; once nothing runs any more, the failure of the first gear (in the plan's order, then the
   * serving ones') that failed is thrown.
   */
  private async startAll(
    starts: Exclude<Action, { kind: 'remove' | 'stop' }>[],
    serving: { spec: GearSpec; containerId: string }[],
    step: StepReporter,
    epochs: Record<string, number>,
  ): Promise<void> {
    const prerequisites = startPrerequisites(
      starts.map((a) => a.spec),
      serving.map((s) => s.spec),
    );
    // Docker's create and start calls, not the health waits, are what a node has to share.
    const gate = atMost(START_CONCURRENCY);
    // The Engine starts containers one after another. A worker's wait is the longest of a pass and runs from its
    // start (it must keep running for the settle time), so the workers that wait for no new gear start first, and the
    // other gears' starts queue behind theirs: the others' health checks then pass while the workers settle.
    const first = settlesFirst(
      starts.map((a) => a.spec),
      prerequisites,
    );
    // Each resolves once that worker's start was asked for (or it will not start): the others' starts wait for all.
    const begun = first.map(() => {
      let resolve = (): void => undefined;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    });
    const behind = first.length > 0 ? Promise.all(begun.map((b) => b.promise)) : undefined;
    const healthy: Promise<void>[] = [];
    const start = (i: number): Promise<void> =>
      (healthy[i] ??=
        i >= starts.length
          ? this.waitHealthy(serving[i - starts.length].spec, serving[i - starts.length].containerId, async () => undefined)
          : (async () => {
              const mine = begun[first.indexOf(i)];
              try {
                await this.startOne(starts[i], {
                  prerequisites: prerequisites[i].length,
                  waitFor: () => Promise.all(prerequisites[i].map(start)),
                  behind: mine ? undefined : behind,
                  started: () => mine?.resolve(),
                  gate,
                  step,
                  epochs,
                });
              } finally {
                mine?.resolve();
              }
            })());
    const outcomes = await Promise.allSettled([...starts.map((_, i) => start(i)), ...(healthy.slice(starts.length).filter(Boolean) as Promise<void>[])]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * One gear of startAll: its container made, started once `waitFor` (its prerequisites' health) has resolved and,
   * when it is `behind` the workers that start first, once their starts were asked for; then waited for until healthy.
   */
  private async startOne(
    action: Exclude<Action, { kind: 'remove' | 'stop' }>,
    o: {
      /** How many gears it waits for. */
      prerequisites: number;
      waitFor: () => Promise<unknown>;
      behind: Promise<unknown> | undefined;
      /** Called once its start was asked for (or it was not started). */
      started: () => void;
      gate: <T>(f: () => Promise<T>) => Promise<T>;
      step: StepReporter;
      epochs: Record<string, number>;
    },
  ): Promise<void> {
    const { gate, step, epochs } = o;
    // A new gear that waits (for others, or behind the workers) has its container made meanwhile; only its start waits.
    let made: Promise<string | null> | undefined;
    if (action.kind === 'create' && (o.prerequisites > 0 || o.behind)) {
      made = gate(async () => {
        if (await this.withdrawn(action.spec, step, epochs)) return null;
        await step(`creating ${gearTitle(action.spec)}`);
        return this.createContainer(action.spec, epochs[action.spec.gearId]);
      });
      // Met below, unless a prerequisite failed first: the next converge starts or removes that container.
      made.catch(() => undefined);
    }
    await o.waitFor();
    await o.behind;
    const containerId = made ? await made : undefined;
    if (containerId === null) return;
    const away = action.kind === 'replace' && restartsInPlace(action.spec) ? Date.now() : undefined;
    const result = await gate(async () => {
      try {
        if (!containerId) return await this.apply(action, step, epochs);
        return (await this.withdrawn(action.spec, step, epochs)) ? null : await this.startCreated(action.spec, containerId);
      } finally {
        o.started();
      }
    });
    if (result) await this.waitHealthy(result.spec, result.containerId, step);
    if (result && away !== undefined) await step(`${gearTitle(action.spec)} is back after ${((Date.now() - away) / 1000).toFixed(1)} s`);
  }

  /** The post-deploy hook: in one running gear; its failure is reported and changes nothing else. */
  private async runAfter(
    containers: ObservedContainer[],
    after: { gearId: string; command: string[] },
    step: StepReporter,
    log?: (line: string) => void,
  ): Promise<void> {
    const c = containers.find((x) => x.labels[LABELS.gear] === after.gearId);
    if (!c) return;
    await step('running the post-deploy hook');
    const r = await this.docker.exec(c.id, after.command).catch((err: Error) => ({ exitCode: -1, output: err.message }));
    for (const line of r.output.split('\n').filter(Boolean)) log?.(`post-deploy hook: ${line}`);
    await step(r.exitCode === 0 ? 'the post-deploy hook succeeded' : `warning: the post-deploy hook exited with code ${r.exitCode}; the release stays`);
  }

  private async ensureNetwork(name: string, labels: Record<string, string>): Promise<void> {
    try {
      await this.docker.ensureNetwork(name, labels);
    } catch (err) {
      if (!/address pool/i.test((err as Error).message)) throw err;
      throw new PermanentError(
        `Docker has no free address range for another app network on this node (${(err as Error).message.trim()}); ` +
          'give dockerd larger "default-address-pools" in /etc/docker/daemon.json',
      );
    }
  }

  /**
   * Whether a gear this job was to start has been taken from its assignment since the job was sent: the broker fenced
   * it (its operation was cancelled and the gear is gone, or it moved), and a fence is heard at once, even while
   * this job holds the app's turn. Such a gear is not started: it would run until the fence's removal comes round.
   */
  private async withdrawn(spec: GearSpec, step: StepReporter, epochs: Record<string, number>): Promise<boolean> {
    const epoch = epochs[spec.gearId];
    if (epoch === undefined || epoch >= this.held.of(spec.gearId)) return false;
    await step(`not starting ${gearTitle(spec)}: the broker has withdrawn it since this job was sent`);
    return true;
  }

  private async apply(action: Action, step: StepReporter, epochs: Record<string, number> = {}): Promise<{ spec: GearSpec; containerId: string } | null> {
    if (action.kind !== 'remove' && action.kind !== 'stop' && (await this.withdrawn(action.spec, step, epochs))) return null;
    switch (action.kind) {
      case 'remove':
        await step(`removing container ${action.containerId.slice(0, 12)} (${action.reason})`);
        // A graceful stop first: in-flight requests finish and databases shut down cleanly.
        await this.docker.stopContainer(action.containerId);
        await this.docker.removeContainer(action.containerId);
        return null;
      case 'stop':
        await step(`stopping ${gearTitle(action.spec)}`);
        await this.docker.stopContainer(action.containerId);
        return null;
      case 'start':
        await step(`starting ${gearTitle(action.spec)}`);
        await this.docker.startContainer(action.containerId);
        return { spec: action.spec, containerId: action.containerId };
      case 'replace':
        await step(
          restartsInPlace(action.spec)
            ? `restarting ${gearTitle(action.spec)} in place (it runs once, on its own volume): until it is back, what the app asks of it fails; that is the app's own downtime`
            : `replacing ${gearTitle(action.spec)} (its spec changed)`,
        );
        await this.docker.stopContainer(action.containerId);
        await this.docker.removeContainer(action.containerId);
        return this.create(action.spec, epochs[action.spec.gearId]);
      case 'create':
        await step(`creating ${gearTitle(action.spec)}`);
        return this.create(action.spec, epochs[action.spec.gearId]);
    }
  }

  private async create(spec: GearSpec, epoch?: number): Promise<{ spec: GearSpec; containerId: string } | null> {
    return this.startCreated(spec, await this.createContainer(spec, epoch));
  }

  private async startCreated(spec: GearSpec, containerId: string): Promise<{ spec: GearSpec; containerId: string } | null> {
    if (!spec.running) return null;
    await this.docker.startContainer(containerId);
    return { spec, containerId };
  }

  private async createContainer(spec: GearSpec, epoch?: number): Promise<string> {
    return this.docker.createContainer({
      name: spec.containerName,
      image: this.images.tag(spec.image),
      command: spec.command,
      ...(spec.entrypoint ? { entrypoint: spec.entrypoint } : {}),
      ...(spec.workingDir ? { workingDir: spec.workingDir } : {}),
      user: spec.user,
      hostname: spec.hostname,
      env: spec.env,
      labels: {
        ...this.appLabels(spec.appId),
        [LABELS.appName]: spec.app,
        [LABELS.domain]: spec.domain,
        [LABELS.gear]: spec.gearId,
        [LABELS.cartridge]: spec.cartridge,
        ...(spec.process ? { [LABELS.process]: spec.process } : {}),
        ...(spec.service ? { [LABELS.service]: spec.service } : {}),
        [LABELS.specHash]: specHash(spec),
        ...(epoch ? { [LABELS.epoch]: String(epoch) } : {}),
        'gearshift.endpoints': JSON.stringify(Object.fromEntries(spec.ports.map((p) => [p.name, p.containerPort]))),
      },
      ports: spec.ports,
      volumes: spec.volumes,
      ...(spec.anonymousVolumes?.length ? { anonymousVolumes: spec.anonymousVolumes } : {}),
      network: spec.network,
      aliases: spec.aliases,
      publishIp: this.config.address,
      memoryMb: spec.resources.memoryMb,
      cpus: spec.resources.cpus,
      pids: spec.resources.pids,
      security: spec.security ?? RESTRICTED_SECURITY,
    });
  }

  private async waitHealthy(spec: GearSpec, containerId: string, step: StepReporter): Promise<void> {
    const h = spec.health;
    const who = gearName(spec);
    if (h.kind === 'none') {
      // A worker answers nothing: it is healthy once it keeps running. Other gears without a check count at once.
      if (!settles(spec)) return;
      await step(`waiting for ${who} to keep running for ${WORKER_SETTLE_MS / 1000} s`);
      await this.failed(spec, containerId, async () => {
        const ms = await waitSettled({ settleMs: WORKER_SETTLE_MS, look: () => this.docker.inspectContainer(containerId) });
        await step(`${who} is healthy (kept running ${ms} ms)`);
      });
      return;
    }
    await step(`waiting for ${who} to pass its health check`);
    const info = await this.docker.inspectContainer(containerId);
    let probe: Probe;
    if (h.kind === 'command') {
      probe = async () => {
        const r = await this.docker.exec(containerId, h.command).catch((err: Error) => ({ exitCode: -1, output: err.message }));
        return r.exitCode === 0
          ? null
          : { message: `${h.command.join(' ')} exited ${r.exitCode}${r.output ? `: ${r.output.trim().slice(0, 200)}` : ''}`, refused: false };
      };
    } else {
      // A published port accepts connections before the process in the container listens (Docker's proxy answers
      // for it), so a check goes to the container's own address whenever it has one. A container that is not running
      // (it exited, or waits to be restarted) has no address yet and passes nothing.
      let inside: string | undefined = info.ip[spec.network] || undefined;
      let published = info.publishedPorts[h.port];
      probe = async () => {
        if (!inside) {
          const now = await this.docker.inspectContainer(containerId);
          if (now.state !== 'running') return { message: `the container is ${now.state} (last exit code ${now.exitCode})`, refused: true };
          inside = now.ip[spec.network] || undefined;
          published = now.publishedPorts[h.port] ?? published;
        }
        const [host, port] = inside ? [inside, h.port] : [this.config.address, published ?? h.port];
        return (h.kind === 'http' ? httpProbe({ host, port, path: h.path, status: h.status, viaProxy: !inside }) : tcpProbe(host, port, !inside))();
      };
    }
    // A gear in a restart loop may answer for a moment between two exits: an answer counts only while the container
    // that gave it still runs, not restarted since the check began.
    const answered = probe;
    probe = async () => {
      const result = await answered();
      if (result !== null) return result;
      const now = await this.docker.inspectContainer(containerId);
      if (now.state === 'running' && now.restartCount === info.restartCount) return null;
      return { message: `the container answered, then exited (exit code ${now.exitCode})`, refused: false };
    };
    await this.failed(spec, containerId, async () => {
      const ms = await waitHealthy({
        health: h,
        probe,
        intervalMs: h.kind === 'command' ? 250 : 50,
        alive: async () => {
          const now = await this.docker.inspectContainer(containerId);
          // Caught between two restarts (running again, its exit code reset) it is seen stopped at a later look.
          return now.state === 'running' ? null : `stopped with exit code ${now.exitCode} before it passed its health check`;
        },
      });
      await step(`${who} is healthy (${ms} ms)`);
    });
  }

  /** Runs a gear's wait for health; when it fails, the gear failed, with the reason and what it printed last. */
  private async failed(spec: GearSpec, containerId: string, wait: () => Promise<void>): Promise<void> {
    try {
      await wait();
    } catch (err) {
      // A container that stopped is not restarted by Docker again and again: the gear failed, with this reason.
      const now = await this.docker.inspectContainer(containerId).catch(() => null);
      if (now && now.state !== 'running') await this.docker.stopContainer(containerId).catch(() => undefined);
      const logs = (await this.docker.logTail(containerId, 30)).trim();
      if (spec.web) {
        const lines = (await this.docker.logTail(containerId, 500)).split('\n').filter(Boolean);
        this.failedGears.record(spec.appId, { gear: spec.gearId, cartridge: spec.cartridge, at: new Date().toISOString(), lines });
      }
      throw new PermanentError(`${gearTitle(spec)} ${(err as Error).message}; ${logs ? `it printed:\n${logs}` : 'it printed nothing'}`);
    }
  }

  /** Removes every container, network and volume of an app on this node. */
  async removeApp(appId: string, step: StepReporter): Promise<void> {
    const labels = this.appLabels(appId);
    const containers = await this.docker.listContainers(labels);
    if (containers.length > 0) await step(`removing ${containers.length} container(s)`);
    await Promise.all(
      containers.map(async (c) => {
        await this.docker.stopContainer(c.id);
        await this.docker.removeContainer(c.id);
      }),
    );
    for (const n of await this.docker.listNetworks(labels)) await this.docker.removeNetwork(n);
    const volumes = await this.docker.listVolumes(labels);
    if (volumes.length > 0) await step(`removing ${volumes.length} volume(s)`);
    for (const v of volumes) await this.docker.removeVolume(v);
    await pruneReleaseImages(this.docker, this.config.instance, appId, []);
    this.failedGears.forget(appId);
  }
}

/**
 * A gear as steps and failures name it: by its service (or Procfile process) when it has one, since several services
 * may run the same cartridge; else by its cartridge.
 */
export function gearName(spec: Pick<GearSpec, 'gearId' | 'cartridge' | 'service' | 'process'>): string {
  const id = spec.gearId.slice(0, 8);
  if (spec.service) return `service ${spec.service}, gear ${id}`;
  if (spec.process) return `process ${spec.process}, gear ${id}`;
  return `${spec.cartridge} ${id}`;
}

/**
 * A service gear of the app (a database, a cache) that holds data on a volume: it is never doubled, so replacing it
 * stops it before its new container starts, and the app is without it meanwhile.
 */
const restartsInPlace = (spec: GearSpec): boolean => !spec.web && !spec.service && !spec.process && spec.volumes.length > 0;

/** The same, as the subject of a sentence: `gear nodejs-24 15d6efcf`, `service api, gear 15d6efcf`. */
export const gearTitle = (spec: Pick<GearSpec, 'gearId' | 'cartridge' | 'service' | 'process'>): string =>
  spec.service || spec.process ? gearName(spec) : `gear ${gearName(spec)}`;
