import { Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { GEAR_SIZES, gearProcessTypes, SERVICE_NAME, startOrder, type RunInput, type RunMessage, type TerminalSize } from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { conflict, notFound, ruleViolation } from '../common/errors';
import { HeldPerUser } from '../common/held-per-user';
import { allStreams, BoundedStream, droppedWords, responseSink } from '../common/bounded-stream';
import { AppAccess } from '../apps/app-access.service';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { GearSpecsService } from '../apps/gear-specs.service';
import { appHostService, secretValues } from '../apps/gear-specs';
import { unknownService } from './unknown-service';
import { CatalogService } from '../cartridges/catalog.service';
import { QueueService } from '../queue/queue.service';
import { NodeRelay, type RelayChannel } from '../queue/node-relay';
import type { User } from '../users/user.entity';
import type { App } from '../apps/app.entity';

/** `POST .../run`: the command's words, and the process type or named service whose environment and node it runs with. */
export interface RunBody {
  command: string[];
  process?: string;
  service?: string;
}

export const runSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['command'],
  properties: {
    command: { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 4096 } },
    process: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,30}$' },
    /** A named service of the app: its image, environment and node. */
    service: { type: 'string', pattern: SERVICE_NAME },
  },
} as const;

/**
 * `POST .../exec`: the command's words, and the gear to run it in (its id or the start of it), or the named service
 * or Procfile process type one of whose gears it runs in; default: a web gear (of an app of services only, the
 * service at its host name).
 */
export interface ExecBody {
  command: string[];
  gear?: string;
  service?: string;
  process?: string;
}

/** Where `gearshift exec` runs its command: at most one of a gear, a named service, a Procfile process type. */
export type ExecTarget = Pick<ExecBody, 'gear' | 'service' | 'process'>;

export const execSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['command'],
  properties: {
    command: runSchema.properties.command,
    gear: { type: 'string', pattern: '^[0-9a-f-]{4,36}$' },
    service: runSchema.properties.service,
    process: runSchema.properties.process,
  },
} as const;

/** How a one-off command ended: its exit code, or why it could not run. */
export type RunEnd = { exitCode: number } | { error: string };

/** What a command prints: lines (stdout and stderr apart), or, with a terminal, what the terminal shows. */
export type RunOutput = Extract<RunMessage, { line: string }> | Extract<RunMessage, { data: string }>;

/** What runs, for whom: the command's words and the process type whose gear gives the environment and the node. */
export interface RunRequest {
  command: string[];
  process?: string;
  /** A named service of the release: the command runs in its image, with its environment (see execute). */
  service?: string;
}

/** How a command's output goes out and its input comes in. */
export interface CommandIo {
  onOutput: (m: RunOutput) => void;
  /** Ends the command early: nobody reads it any more. */
  signal?: AbortSignal;
  /** A terminal of this size. */
  tty?: TerminalSize;
  /**
   * Given when the command reads an input: called with how to send it, once the node listens for it, and whether the
   * node says how much it has read (onInputRead).
   */
  onInput?: (send: (m: RunInput) => Promise<void>, reads: boolean) => void;
  /** How many of the input's messages the node has read in all (a node that says so). */
  onInputRead?: (count: number) => void;
  labels?: Record<string, string>;
  /** Just before the job goes to the node, and just after. */
  sending?: () => void;
  sent?: () => void;
}

/**
 * One-off commands (`gearshift run APP -- rake db:migrate`): a new container of the release the app serves, with
 * the environment of its gears, on the app's network, on a node that runs the release (its image is there); and
 * commands in a running gear (`gearshift exec`). The node sends the output and the exit code on a relay channel of
 * this request; the answer streams them on as lines of JSON (`{"line", "stream"}`, then `{"exitCode"}` or
 * `{"error"}`). A client that goes away kills the command. The same commands with a terminal go over a WebSocket
 * (terminal.gateway.ts).
 */
@Injectable()
export class RunService {
  /** Commands each user has running through this broker, run or exec, with or without a terminal. */
  private readonly running = new HeldPerUser();

  constructor(
    private readonly access: AppAccess,
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly specs: GearSpecsService,
    private readonly catalog: CatalogService,
    private readonly queue: QueueService,
    private readonly relays: NodeRelay,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  /** The app, if `user` may run commands in it (developers and owners: a viewer may not). */
  async appFor(user: User, domainName: string, appName: string): Promise<App> {
    return (await this.access.requireApp(user, domainName, appName, 'develop')).app;
  }

  /** Runs `work` as one of the user's commands: each holds a container (or a process in a gear) and a relay. */
  held<T>(user: User, work: () => Promise<T>): Promise<T> {
    return this.running.run(
      user.id,
      this.config.maxRuns,
      (held) => `you have ${held} commands running, the most one user may (GEARSHIFT_MAX_RUNS); wait for one to end and try again`,
      work,
    );
  }

  /**
   * Takes one of the user's commands now, for a command that starts later (a cron run in the user's name): the
   * function that gives it back once the command has ended, or how many the user holds when that is the most.
   */
  reserve(user: Pick<User, 'id'>): { release: () => void } | { held: number; limit: number } {
    const release = this.running.take(user.id, this.config.maxRuns);
    return release ? { release } : { held: this.running.of(user.id), limit: this.config.maxRuns };
  }

  async run(user: User, domainName: string, appName: string, body: RunBody, res: Response): Promise<void> {
    const app = await this.appFor(user, domainName, appName);
    await this.held(user, () => this.answer(res, (io) => this.execute(app, body, io)));
  }

  async exec(user: User, domainName: string, appName: string, body: ExecBody, res: Response): Promise<void> {
    const app = await this.appFor(user, domainName, appName);
    await this.held(user, () =>
      this.answer(res, (io) => this.executeIn(app, { gear: body.gear, service: body.service, process: body.process }, body.command, io)),
    );
  }

  /**
   * Streams a command's output and end as lines of JSON. Output a slow client has not read is held up to
   * GEARSHIFT_STREAM_BUFFER; past it, lines are dropped (the command runs on) and a line on stderr with `dropped`
   * says how many; the exit code always comes.
   */
  private async answer(res: Response, start: (io: CommandIo) => Promise<RunEnd | null>): Promise<void> {
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const out = new BoundedStream(responseSink(res), {
      limit: this.config.streamBuffer,
      shared: allStreams(this.config.streamBufferTotal),
      join: (lines) => lines.join(''),
      notice: (d) => `${JSON.stringify({ line: `gearshift: ${droppedWords(d)}`, stream: 'stderr', dropped: d.chunks })}\n`,
    });
    try {
      const end = await start({
        onOutput: (m) => out.write(`${JSON.stringify(m)}\n`),
        signal: gone.signal,
        // Set before the job goes: its first line may come back before the send returns. Until then, an error is
        // still the error filter's to answer.
        sending: () => {
          res.setHeader('content-type', 'application/x-ndjson; charset=utf-8');
          res.setHeader('cache-control', 'no-cache');
          res.setHeader('x-accel-buffering', 'no');
        },
        sent: () => {
          if (!res.headersSent) res.flushHeaders();
        },
      });
      if (end) out.end(`${JSON.stringify(end)}\n`);
    } catch (err) {
      // Not begun: the error filter answers with an error body of its own type.
      if (!res.headersSent) for (const h of ['content-type', 'cache-control', 'x-accel-buffering']) res.removeHeader(h);
      throw err;
    } finally {
      // An error before the answer began is the error filter's to write.
      if (res.headersSent && !res.writableEnded) {
        out.end();
        res.end();
      }
    }
  }

  /**
   * Runs `request` once in a new container of the app's release and passes on its output; resolves how it ended, or
   * null when `signal` ended it first (the command is then killed). Throws, before anything runs, when the app has
   * no release or no gear of it to run beside.
   */
  async execute(app: App, request: RunRequest, io: CommandIo): Promise<RunEnd | null> {
    const release = app.activeDeploymentId ? await this.deploymentsRepository.findById(app.activeDeploymentId) : null;
    // A release of named services only runs commands in a service's image: the one asked for, else the one that
    // answers at the app's host name, else the first to start.
    const services = release?.services ?? {};
    const service = request.service ?? (release && !release.image && !request.process ? (appHostService(services) ?? startOrder(services)[0]) : undefined);
    if (release && !release.pruned && !release.image && request.process !== undefined && request.service === undefined) {
      const names = Object.keys(services);
      throw ruleViolation(
        '/process',
        'procfile-process',
        `release ${release.number} runs named services${names.length ? ` (${names.join(', ')})` : ''}, not process types: run in one of them with "service"`,
      );
    }
    if (!release || release.pruned || (!release.image && !service)) {
      throw conflict(`app "${app.name}" has no release yet: deploy its code first (git push, or POST .../deployments), then run commands in it`);
    }
    const gears = (app.gears ?? []).filter((g) => g.deploymentId === release.id);
    let gear: (typeof gears)[number] | undefined;
    let image = release.image ?? '';
    if (service !== undefined) {
      if (request.process !== undefined) throw ruleViolation('/service', 'one-target', 'run in a service or in a process type, not both');
      if (!services[service]) throw unknownService('/service', `release ${release.number}`, service, Object.keys(services));
      image = services[service].image;
      gear = gears.find((g) => g.service === service);
      if (!gear) throw conflict(`no gear of service ${service} runs release ${release.number} (it may be scaled to 0); scale it first`);
    } else {
      const type = request.process ?? 'web';
      const types = gearProcessTypes(release.processes ?? {});
      if (type !== 'web' && !types.includes(type)) {
        throw ruleViolation(
          '/process',
          'procfile-process',
          `release ${release.number} has no process ${type}; it has web${types.map((t) => `, ${t}`).join('')}`,
        );
      }
      // A node that runs the release has its image and the app's network; the process type's gear gives the environment.
      gear = gears.find((g) => !g.service && (type === 'web' ? !g.process : g.process === type)) ?? gears.find((g) => !g.service);
      if (!gear) throw conflict(`no gear of app "${app.name}" runs release ${release.number} (the app may be scaled to 0); start or scale it first`);
    }
    const shape = await this.specs.shapeOf(app);
    const spec = (await this.specs.specs(app)).find((s) => s.gearId === gear.id)!;
    const env = { ...spec.env, GEARSHIFT_RELEASE: String(release.number) };
    const large = GEAR_SIZES.large;
    return this.relay(gear.nodeId, io, (relay) =>
      this.queue.send(
        gear.nodeId,
        'app.run',
        {
          appId: app.id,
          channel: relay.channel,
          alive: relay.alive,
          image,
          command: request.command,
          env,
          network: spec.network,
          labels: { ...io.labels, 'gearshift.release': String(release.number) },
          limits: { memoryMb: this.config.buildMemoryMb, cpus: large.cpus, pids: large.pids, diskMb: this.config.runDiskMb },
          ...(spec.security ? { security: spec.security } : {}),
          timeoutSeconds: this.config.runTimeoutSeconds,
          secrets: secretValues(shape, this.catalog.cartridges, env),
          ...(io.tty ? { tty: io.tty } : {}),
          ...(io.onInput ? { input: relay.input, inputAcks: true } : {}),
        },
        undefined,
        1,
      ),
    );
  }

  /**
   * The gear a command of `gearshift exec` runs in: the one named, else a running gear of the named service or of the
   * Procfile process type, else a running web gear (one of the app's release first), else, for an app of named
   * services only, a running gear of the service that answers at its host name (or of the first to start).
   */
  private async gearToExecIn(app: App, target: ExecTarget) {
    const gears = app.gears ?? [];
    const named = (['gear', 'service', 'process'] as const).filter((k) => target[k] !== undefined);
    if (named.length > 1) throw ruleViolation(`/${named[1]}`, 'one-target', `name a gear, a service or a process type, not ${named.join(' and ')}`);
    if (target.gear) {
      const gear = gears.find((g) => g.id.startsWith(target.gear!));
      if (!gear) throw notFound(`gear "${target.gear}" of app "${app.name}"`);
      return gear;
    }
    const web = this.catalog.webOf((app.cartridges ?? []).map((c) => c.cartridge))?.manifest.name;
    const release = app.activeDeploymentId ? await this.deploymentsRepository.findById(app.activeDeploymentId) : null;
    const services = release?.services ?? {};
    // A process type: a release of named services only has none (as run refuses it); web is the default below, any
    // other a running gear of that type, whose environment run would take too.
    if (target.process !== undefined && release && !release.pruned && !release.image) {
      const names = Object.keys(services);
      throw ruleViolation(
        '/process',
        'procfile-process',
        `release ${release.number} runs named services${names.length ? ` (${names.join(', ')})` : ''}, not process types: run in one of them with "service"`,
      );
    }
    if (target.process !== undefined && target.process !== 'web') {
      if (!release) throw conflict(`app "${app.name}" has no release yet: deploy its code first, then run commands in its gears`);
      const types = gearProcessTypes(release.processes ?? {});
      if (!types.includes(target.process)) {
        throw ruleViolation(
          '/process',
          'procfile-process',
          `release ${release.number} has no process ${target.process}; it has web${types.map((t) => `, ${t}`).join('')}`,
        );
      }
      const own = gears.filter((g) => g.process === target.process && !g.service);
      const running = own.find((g) => g.state === 'running' && g.deploymentId === release.id) ?? own.find((g) => g.state === 'running');
      if (!running) throw conflict(`no gear of process ${target.process} of app "${app.name}" is running (it may be scaled to 0); scale or start it first`);
      return running;
    }
    const service = target.service ?? (web ? undefined : (appHostService(services) ?? startOrder(services)[0]));
    if (service !== undefined) {
      const own = gears.filter((g) => g.service === service);
      if (own.length === 0 && !services[service]) throw unknownService('/service', `app "${app.name}"`, service, Object.keys(services));
      const running = own.find((g) => g.state === 'running' && g.deploymentId === release?.id) ?? own.find((g) => g.state === 'running');
      if (!running) throw conflict(`no gear of service ${service} of app "${app.name}" is running (it may be scaled to 0); scale or start it first`);
      return running;
    }
    const webGears = gears.filter((g) => g.cartridge === web && !g.process && !g.service);
    const gear = webGears.find((g) => g.state === 'running' && g.deploymentId) ?? webGears.find((g) => g.state === 'running');
    if (gear) return gear;
    if (webGears.length === 0) {
      throw conflict(
        `app "${app.name}" has no web gear yet${web ? '' : ' (its runtime comes with its first push)'}; name a gear to run the command in (GET .../gears)`,
      );
    }
    throw conflict(`no web gear of app "${app.name}" is running; start it, or name a gear (GET .../gears)`);
  }

  /**
   * Runs a command in a running gear of the app: the one whose id starts with `target.gear`, else one of the named
   * service or Procfile process type, else a running web gear,
   * one of the app's release first (never a service's gear unless named: a command meant for the app must not run
   * beside its database). Resolves as execute does.
   */
  async executeIn(app: App, target: ExecTarget, command: string[], io: CommandIo): Promise<RunEnd | null> {
    const gear = await this.gearToExecIn(app, target);
    if (gear.state !== 'running') throw conflict(`gear ${gear.id.slice(0, 8)} is ${gear.state}, not running`);
    const shape = await this.specs.shapeOf(app);
    const spec = (await this.specs.specs(app)).find((s) => s.gearId === gear.id);
    return this.relay(gear.nodeId, io, (relay) =>
      this.queue.send(
        gear.nodeId,
        'app.exec',
        {
          appId: app.id,
          gearId: gear.id,
          channel: relay.channel,
          alive: relay.alive,
          command,
          timeoutSeconds: this.config.runTimeoutSeconds,
          secrets: spec ? secretValues(shape, this.catalog.cartridges, spec.env) : [],
          ...(io.tty ? { tty: io.tty } : {}),
          ...(io.onInput ? { input: relay.input, inputAcks: true } : {}),
        },
        undefined,
        1,
      ),
    );
  }

  /** Opens a relay channel, sends the node its job, and passes output on until the command ends or `signal` ends it. */
  private async relay(nodeId: string, io: CommandIo, send: (relay: RelayChannel<RunMessage>) => Promise<unknown>): Promise<RunEnd | null> {
    const relay = await this.relays.open<RunMessage>('run-');
    let timer: NodeJS.Timeout | undefined;
    const ended = new Promise<RunEnd | null>((resolve) => {
      relay.onMessage((m) => {
        if ('line' in m || 'data' in m) io.onOutput(m);
        else if ('started' in m) io.onInput?.((input) => relay.send(input, m.stream === true), m.stream === true);
        else if ('read' in m) {
          void relay.trim(m.read).catch(() => undefined);
          io.onInputRead?.(m.count);
        } else resolve(m);
      });
      if (io.signal?.aborted) resolve(null);
      io.signal?.addEventListener('abort', () => resolve(null));
      // A node that never answers does not hold the request forever.
      timer = setTimeout(
        () => resolve({ error: `the command did not end within ${this.config.runTimeoutSeconds} s` }),
        (this.config.runTimeoutSeconds + 60) * 1000,
      );
    });
    try {
      io.sending?.();
      await send(relay);
      io.sent?.();
      return await ended;
    } finally {
      clearTimeout(timer);
      // The key goes: the node kills a command still running.
      await relay.close();
    }
  }
}
