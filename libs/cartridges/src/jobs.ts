import { createHash } from 'node:crypto';
import type { ValidateFunction } from 'ajv';
import { brokerJobSchemas, nodeJobSchemas } from './job-schemas';
import type { GearState } from './gear-state';
import type { GearSecurity } from './security';
import { ajv, toViolations, type Violation } from './validation';
import { currentRequestId } from './logging';

/**
 * The job contract between the broker and the node agents. Both sides import it from here and nothing else:
 * queue names, job names, and one typed union of payloads.
 */

/**
 * The queue the broker consumes: operation reports from every node and a router's wakes (and heartbeats from an agent
 * older than BEATS_QUEUE, still taken there while a platform is upgraded).
 */
export const BROKER_QUEUE = 'broker';
/**
 * Heartbeats of every node, on a queue of their own with a worker of their own: thousands of reports queued while
 * gears are placed never hold a beat back long enough for its node to look silent.
 */
export const BEATS_QUEUE = 'beats';
/**
 * The deduplication id of a node's heartbeats on BEATS_QUEUE: while one beat of a node waits for the broker, the ones
 * its node sends meanwhile are dropped (the next one says more than they do) instead of queued behind it by the
 * thousand. The broker releases the id as it takes the beat, so the node's next beat queues at once: the hold ends
 * with the broker taking the beat, never after a fixed time.
 */
export const beatDeduplicationId = (nodeId: string): string => `beat.${nodeId}`;
/** Each node consumes its own queue, so a job reaches exactly the host that owns the gears. */
export const nodeQueue = (nodeId: string): string => `node-${nodeId}`;

export type { GearState } from './gear-state';

export interface PortSpec {
  name: string;
  containerPort: number;
  protocol: 'http' | 'tcp';
  /** Published on the node's loopback at a port Docker picks. */
  publish: boolean;
}

/** An HTTP check's idea of healthy: one status code, any answer at all, or (absent) any status below 400. */
export type HealthStatus = number | 'any';

export type HealthSpec =
  | { kind: 'http'; port: number; path: string; status?: HealthStatus; timeoutSeconds: number }
  | { kind: 'command'; command: string[]; timeoutSeconds: number }
  | { kind: 'tcp'; port: number; timeoutSeconds: number }
  | { kind: 'none'; timeoutSeconds: number };

/** Everything a node agent needs to run one gear; the broker computes it, the agent converges to it. */
export interface GearSpec {
  gearId: string;
  appId: string;
  app: string;
  domain: string;
  cartridge: string;
  /** The Procfile process type the gear runs (a worker: no port, healthy while running); absent: the cartridge's gear. */
  process?: string;
  /** The named service of the app (gearshift.yml `services:`) the gear runs; absent: a cartridge's or process gear. */
  service?: string;
  /** Web gears serve the app's traffic and start after the app's services are healthy. */
  web: boolean;
  /**
   * The app's services and cartridges (by name) whose gears must be healthy before this one starts (a service's
   * `dependsOn`). It orders the start only, so it is not part of the spec's hash: a change of it replaces nothing.
   */
  waitsFor?: string[];
  /** The image to run: built from the cartridge folder with this content hash, or pulled by reference. */
  image: { build: { cartridge: string; hash: string } } | { ref: string };
  command?: string[];
  /**
   * Replaces the image's ENTRYPOINT (`command` is then its arguments, as in docker compose); an empty list runs the
   * image with none. Absent: the image's own.
   */
  entrypoint?: string[];
  /** The directory the gear's process starts in (an absolute path); absent: the image's WORKDIR. */
  workingDir?: string;
  user?: string;
  /** Docker names: the container, and the app's network on this node. */
  containerName: string;
  network: string;
  /** The gear's host name, and the names other gears of the app reach it by (the cartridge name). */
  hostname: string;
  aliases: string[];
  env: Record<string, string>;
  ports: PortSpec[];
  volumes: { name: string; path: string }[];
  /**
   * Paths given a volume of the container's own (anonymous): made from the image's content there when the container
   * is made, and removed with it, so each release starts with its image's files. Absent: none.
   */
  anonymousVolumes?: string[];
  resources: { memoryMb: number; cpus: number; pids: number };
  /** Capabilities, read-only root, tmpfs: what its cartridge declares. Absent (an older broker): the restricted default. */
  security?: GearSecurity;
  health: HealthSpec;
  /** Whether the gear should be running. A stopped gear keeps its container and volume. */
  running: boolean;
  /** Bumped by a restart action: a new value replaces the container even when nothing else changed. */
  generation: number;
}

export interface GearInside {
  address: string;
  ports: Record<string, number>;
}

export interface GearReport {
  gearId: string;
  appId: string;
  state: GearState;
  specHash?: string;
  containerId?: string;
  /** Host ports published on the node's loopback, by endpoint name. */
  ports: Record<string, number>;
  /** The gear's address on its app's network and its endpoints' container ports: reachable from its own node only. */
  inside?: GearInside;
  message?: string;
  /** The gear assignment the container was made for (its label); absent: made before assignments had epochs. */
  epoch?: number;
}

/** What a running gear uses, as Docker's stats say: CPU time since it started, and memory less the page cache. */
export interface GearUsage {
  gearId: string;
  appId: string;
  cpuSeconds: number;
  memoryBytes: number;
  /** CPU used since the node's previous sample, in cores (1 = one core busy); absent on a gear's first sample. */
  cpuRatio?: number;
}

/** A job its node finished: its name, and the time from being queued to its end on the node. */
export interface JobTiming {
  kind: string;
  seconds: number;
}

export interface NodeCapacity {
  memoryMb: number;
  maxGears: number;
  /** Where the node's published gear ports are reached. */
  address: string;
}

/** How app code becomes an image with a cartridge's recipe (see the manifest's `build`). */
export interface BuildRecipe {
  workdir: string;
  dependencies: string[];
  install?: string;
  /** Runs once the whole source is copied, before the build hook (a build script, pruning dev dependencies). */
  compile?: string;
  /** Absent, or the JSON file and key without which the compile step needs only the dependency files and the Procfile. */
  compileNeeds?: { file: string; key: string };
  command?: string[];
  /** The web port, for PORT in a Procfile's command when the cartridge sets none. */
  port?: number;
  user?: string;
  /** Shell commands run while building: before dependencies are installed, and after the code is copied. */
  hooks: { preBuild?: string; build?: string };
}

/** Build one release of an app: fetch its source, build the image, push it, run the release command. */
export interface BuildJob {
  operationId: string;
  appId: string;
  deploymentId: string;
  /** Where the agent fetches the source archive (a capability URL on the broker). */
  sourceUrl: string;
  /** The cartridge's image, which the recipe builds on and a Dockerfile may name. */
  base: GearSpec['image'];
  /** Null: the source's own Dockerfile is used. */
  recipe: BuildRecipe | null;
  /** The image to make, named in the platform's registry when there is one. */
  tag: string;
  push: boolean;
  labels: Record<string, string>;
  /** What the build and the deploy hook may use; CPU and processes default to the largest gear size's. */
  limits: { memoryMb: number; timeoutSeconds: number; cpus?: number; pids?: number };
  /**
   * Runs once in a one-off container of the new image, on the app's network, before any new gear takes traffic,
   * confined as the app's web gears are (`security`; absent: the restricted default).
   */
  release?: {
    command: string[];
    network: string;
    env: Record<string, string>;
    security?: GearSecurity;
    /** What the build output calls it: `deploy hook` (absent) or `release` (a Procfile's release process). */
    name?: 'deploy hook' | 'release';
    /** The image it runs in: a named service's (absent: the release's image, `tag`). */
    image?: string;
  };
  /** Values never to show in logs (credentials the release command sees). */
  secrets: string[];
  /**
   * The app's named services built from folders of the same source: each its own image, from the folder's
   * Dockerfile (or the one it names) or with its runtime cartridge's recipe on that cartridge's image.
   */
  services?: ServiceBuild[];
  /** The app has no web cartridge of its own: only the services' images are built (and no release command runs). */
  onlyServices?: boolean;
}

/** One named service's image in a build (see BuildJob.services). */
export interface ServiceBuild {
  name: string;
  /** Its folder in the source tree (`.`: the root). */
  context: string;
  dockerfile?: string;
  target?: string;
  /** The runtime's image the recipe builds on; absent for a folder built only with its own Dockerfile. */
  base?: GearSpec['image'];
  recipe: BuildRecipe | null;
  tag: string;
  /**
   * What starts the service's gears when its descriptor says (its entrypoint and command, as a command line), for
   * the build output; absent: what its image says (a Procfile's web line, the recipe's command, the Dockerfile's).
   */
  start?: string;
}

/** One gear's data in a snapshot: how to take it out and put it back, and where it goes in the archive. */
export interface SnapshotItem {
  gearId: string;
  cartridge: string;
  /** Path inside the archive. */
  file: string;
  method:
    /** `count`: prints `name<TAB>rows` lines; the counts go into the archive's gearshift-snapshot.json. */
    | { kind: 'exec'; dump: string[]; restore: string[]; count?: string[] }
    | { kind: 'redis'; port: number; passwordEnv?: string }
    /** The files of a volume, as a tar.gz. */
    | { kind: 'files'; path: string };
}

/** Jobs on a node's queue. */
export interface NodeJobs {
  /** Make this node's gears of one app exactly `gears` (create, replace, start, stop, remove the rest). */
  'app.converge': {
    operationId?: string;
    appId: string;
    gears: GearSpec[];
    /** The app's release images to keep on this node; its other release images are removed afterwards. */
    keepImages?: string[];
    /** Wait this long before removing gears, so that routers stop sending them requests first. */
    drainMs?: number;
    /** A command to run in one gear once the gears are converged (a post-deploy hook); its failure is reported, not fatal. */
    after?: { gearId: string; command: string[] };
    /**
     * The assignment (epoch, a fencing token) of each gear placed on this node. A gear that moves to another node
     * gets a higher one; a node that holds a higher epoch for a gear than its job names knows the job is stale.
     */
    epochs?: Record<string, number>;
  };
  'app.build': BuildJob;
  /** Take the data of the app's gears on this node into one .tar.gz, and upload it to the broker. */
  'app.snapshot': { operationId: string; appId: string; uploadUrl: string; items: SnapshotItem[]; meta: Record<string, unknown> };
  /** Put a snapshot's data back into the app's gears on this node. */
  'app.restore': { operationId: string; appId: string; sourceUrl: string; items: SnapshotItem[] };
  /**
   * Stop (`allow: false`) or let again (`allow: true`) the writes to one database gear, with its cartridge's
   * `quiesce` or `resume` command: an upgrade copies a database that takes no writes, so none is acknowledged and lost.
   */
  'app.writes': { operationId: string; appId: string; gearId: string; cartridge: string; allow: boolean; command: string[] };
  /**
   * Stream the output of the app's gears on this node to a Redis channel: the last `tail` lines, then (with follow)
   * new lines while the key `alive` exists. Answered at once; the streaming goes on beside the queue.
   */
  'app.logs': { appId: string; channel: string; alive: string; tail: number; follow: boolean };
  /**
   * Run a command once in a new container of the app's release image, on its network, and send its output and exit
   * code to a Redis channel (see RunMessage). Answered at once; the command runs beside the queue, and is killed
   * after `timeoutSeconds` or once the key `alive` is gone (nobody reads its output any more).
   */
  'app.run': {
    appId: string;
    channel: string;
    alive: string;
    image: string;
    command: string[];
    env: Record<string, string>;
    network: string;
    labels: Record<string, string>;
    /** `diskMb`: what the command may write to its container's own filesystem before it is killed (absent: no bound). */
    limits: { memoryMb: number; cpus: number; pids: number; diskMb?: number };
    security?: GearSecurity;
    timeoutSeconds: number;
    /** Values never to show in the output (credentials the command sees). */
    secrets: string[];
    /** A terminal of this size (`gearshift run -it`): its output comes as `{data}` messages. */
    tty?: TerminalSize;
    /**
     * The key of the command's input (see RunInput): a Redis stream the node reads from its start (an agent that
     * says `stream` in its `started` message), or, for an older agent, a pub/sub channel of the same name. Without
     * it, the command reads nothing.
     */
    input?: string;
    /** The broker trims the input's stream and holds back the user's keys by `read` messages (see RunMessage). */
    inputAcks?: boolean;
  };
  /**
   * Run a command in a running gear of the app (`gearshift exec`), with its output and exit code on a Redis channel
   * as for `app.run`. Answered at once; the command is let go after `timeoutSeconds` or once `alive` is gone.
   */
  'app.exec': {
    appId: string;
    gearId: string;
    channel: string;
    alive: string;
    command: string[];
    timeoutSeconds: number;
    secrets: string[];
    tty?: TerminalSize;
    input?: string;
    inputAcks?: boolean;
  };
  /** Remove everything of an app on this node: containers, network, volumes. */
  'app.remove': { operationId?: string; appId: string };
  /** Does nothing: measures the platform's queue round trip. */
  'node.ping': { sentAt: number };
  /**
   * These gears are no longer this node's (the node was lost and they run elsewhere now, under `epoch`): remove
   * their containers here, and from now on refuse any job that names an older assignment of them.
   */
  'node.fence': { gears: { gearId: string; appId: string; epoch: number }[] };
  /**
   * Disk hygiene: remove what this node no longer needs of this instance (dangling images, release images no
   * deployment keeps, volumes of apps not in `apps`, build cache over `buildCacheMb`) and answer what went.
   */
  'node.gc': {
    /** When the broker read its apps: volumes made since are left, their app may be newer than the list. */
    at: number;
    /** Every app the broker has. */
    apps: string[];
    /** Release images a deployment still keeps (running, or kept for rollback). */
    keepImages: string[];
    buildCacheMb: number;
    /** Images younger than this are left (a build in progress); absent: 60. */
    graceMinutes?: number;
    dryRun?: boolean;
  };
}

/** Jobs on the broker's queue. */
export interface BrokerJobs {
  /** A router holds a request for an idle app: start its web gears. */
  'app.wake': { appId: string; host: string };
  'node.heartbeat': {
    nodeId: string;
    at: number;
    capacity: NodeCapacity;
    gears: GearReport[];
    memoryRssMb: number;
    /** Running gears' use of CPU and memory, sampled every few heartbeats (for the metrics; absent from an older agent). */
    usage?: GearUsage[];
    /** Jobs the node finished since its last heartbeat that the broker heard (at most the last 500). */
    jobs?: JobTiming[];
  };
  'operation.report': {
    operationId: string;
    nodeId: string;
    appId: string;
    phase: 'step' | 'succeeded' | 'failed';
    /** When the node did it (ms since the epoch): reports may be processed out of order. */
    at: number;
    step?: string;
    /**
     * Steps taken before this report's own (its `log`, `step` or outcome) and not sent yet, in order: progress that
     * came within moments is sent as one job. Absent from an older agent.
     */
    steps?: { at: number; text: string }[];
    /** Output lines of a build or hook, in order. */
    log?: string[];
    error?: string;
    /** What a build made. */
    result?: { image: string; dockerfile: 'recipe' | 'repository' };
    gears: GearReport[];
  };
}

export type NodeJobName = keyof NodeJobs;
export type BrokerJobName = keyof BrokerJobs;

/**
 * Each job name with the schema of its payload. Keyed by the maps above, so a job added to a map without its schema,
 * or a schema for a job no map has, does not compile; the name lists below are read from these.
 */
export const NODE_JOB_SCHEMAS = nodeJobSchemas satisfies Record<NodeJobName, object>;
export const BROKER_JOB_SCHEMAS = brokerJobSchemas satisfies Record<BrokerJobName, object>;

const namesOf = <Name extends string>(schemas: Record<Name, object>) => Object.freeze(Object.keys(schemas) as Name[]);
/** The jobs a node agent takes from its queue. */
export const NODE_JOB_NAMES: readonly NodeJobName[] = namesOf<NodeJobName>(NODE_JOB_SCHEMAS);
/** The jobs the broker takes from its own queue. */
export const BROKER_JOB_NAMES: readonly BrokerJobName[] = namesOf<BrokerJobName>(BROKER_JOB_SCHEMAS);

/** The node jobs that carry out an operation (their payload names it): what an operation dispatches to its nodes. */
export type OperationJobName = { [N in NodeJobName]: 'operationId' extends keyof NodeJobs[N] ? N : never }[NodeJobName];

/** A message on a log channel: a line of one gear, or the end of one node's output. */
export type LogMessage =
  /** `failed`: the gear failed its rollout and is gone; says so, with when. */
  { gear: string; cartridge: string; process?: string; service?: string; line: string; stream: 'stdout' | 'stderr'; failed?: string } | { end: string };

/**
 * A message on a one-off command's channel: a line of its output, what its terminal printed (`data`, base64), that
 * the node reads its input (`started`; `stream`: as a Redis stream, else as a pub/sub channel, on which input sent
 * before would be lost), how much of its input it has read (`read`: the id of the last message of the stream it
 * took, `count`: how many in all; sent when the job asks for `inputAcks`), or how it ended (its exit code, or why it
 * could not run).
 */
export type RunMessage =
  | { line: string; stream: 'stdout' | 'stderr' }
  | { data: string }
  | { started: true; stream?: true }
  | { read: string; count: number }
  | { exitCode: number }
  | { error: string };

/** A message on a command's input: what was typed (`data`, base64), the end of the input, a new terminal size. */
export type RunInput = { data: string } | { eof: true } | { resize: TerminalSize };

/** A terminal's size in characters. */
export interface TerminalSize {
  cols: number;
  rows: number;
}

export type JobOf<Jobs, Name extends keyof Jobs> = { name: Name; data: Jobs[Name] };
export type NodeJob = { [N in NodeJobName]: JobOf<NodeJobs, N> }[NodeJobName];
export type BrokerJob = { [N in BrokerJobName]: JobOf<BrokerJobs, N> }[BrokerJobName];

/** A handler for every job name of a queue: the type makes a missing handler a compile error. */
export type HandlerMap<Jobs> = { [N in keyof Jobs]: (data: Jobs[N]) => Promise<unknown> };

/** Checks at start-up that a handler map covers every job name, so no job can be dropped in silence. */
export function assertHandlesAll<Jobs>(handlers: Partial<HandlerMap<Jobs>>, names: readonly (keyof Jobs)[], who: string): void {
  const missing = names.filter((n) => typeof handlers[n] !== 'function');
  if (missing.length > 0) throw new Error(`${who} has no handler for job(s) ${missing.join(', ')}; refusing to start`);
}

/**
 * The version of this contract. Every job carries the version its sender speaks, and a side that reads another
 * refuses the job rather than guess at its payload. Bump it with any change a side of the previous version could
 * not read: a new required field, a field that changes meaning, a job that is renamed or removed.
 */
export const JOB_CONTRACT_VERSION = 2;

/**
 * A job's payload as it travels: with the contract version of its sender and, when it is part of an API request's
 * work, that request's id (for the logs; a side that does not know it lets it through, as any field it does not name).
 */
export type Stamped<T> = T & { contractVersion: number; requestId?: string };

/** Adds this side's contract version (and the id of the request being worked for) to a payload about to be queued. */
export function stamp<T extends object>(data: T, requestId = currentRequestId()): Stamped<T> {
  return requestId ? { ...data, contractVersion: JOB_CONTRACT_VERSION, requestId } : { ...data, contractVersion: JOB_CONTRACT_VERSION };
}

/** The id of the API request a queued job was stamped with, if any. */
export function jobRequestId(data: unknown): string | undefined {
  const id = data !== null && typeof data === 'object' ? (data as { requestId?: unknown }).requestId : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : undefined;
}

/** A job this side cannot take: of another contract version, or with a payload that breaks the contract. */
export class JobContractError extends Error {
  constructor(
    message: string,
    readonly reason: 'version' | 'payload' | 'name',
    readonly violations: Violation[] = [],
  ) {
    super(message);
    this.name = 'JobContractError';
  }
}

/** The sentence both sides use when their versions differ; it says which side to upgrade. */
export function contractMismatch(sender: string, receiver: string, theirs: unknown): string {
  const known = typeof theirs === 'number' && Number.isInteger(theirs);
  const upgrade = known && theirs > JOB_CONTRACT_VERSION ? receiver : sender;
  return `${sender} speaks job contract ${known ? `v${theirs}` : 'without a version (older than v1)'}; ${receiver} speaks v${JOB_CONTRACT_VERSION}: upgrade ${upgrade} so that both speak the same version`;
}

const validators = new Map<string, ValidateFunction>();

/** The compiled validator of one job's payload, compiled on first use and kept. */
function validatorOf(queue: 'node' | 'broker', name: string, schema: object): ValidateFunction {
  const key = `${queue}:${name}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv().compile(schema);
    validators.set(key, validate);
  }
  return validate;
}

/**
 * Compiles the payload schemas of one queue's jobs now rather than on each job's first delivery: called when a
 * side starts consuming, so that a schema ajv cannot compile stops the start and the first jobs wait for nothing.
 */
export function compileJobSchemas(queue: 'node' | 'broker'): void {
  for (const [name, schema] of Object.entries(queue === 'node' ? NODE_JOB_SCHEMAS : BROKER_JOB_SCHEMAS)) validatorOf(queue, name, schema);
}

function readJob<Jobs, Name extends keyof Jobs & string>(
  queue: 'node' | 'broker',
  schemas: Record<Name, object>,
  name: string,
  data: unknown,
  sides: { sender: (name: Name) => string; receiver: string },
): { name: Name; data: Jobs[Name] } {
  if (!Object.hasOwn(schemas, name))
    throw new JobContractError(`${sides.receiver} knows no job ${JSON.stringify(name.slice(0, 100))} in job contract v${JOB_CONTRACT_VERSION}`, 'name');
  const version = data !== null && typeof data === 'object' ? (data as { contractVersion?: unknown }).contractVersion : undefined;
  if (version !== JOB_CONTRACT_VERSION) throw new JobContractError(contractMismatch(sides.sender(name as Name), sides.receiver, version), 'version');
  const { contractVersion: _version, requestId: _requestId, ...payload } = data as Record<string, unknown>;
  const subject = `job ${name} of ${sides.sender(name as Name)} breaks job contract v${JOB_CONTRACT_VERSION}`;
  const validate = validatorOf(queue, name, schemas[name as Name]);
  if (!validate(payload)) {
    // An `if` line only repeats that its `then` failed; the lines of the `then` name the field.
    const { violations, more } = toViolations(validate.errors?.filter((e) => e.keyword !== 'if'));
    validate.errors = null;
    const list = violations.map((v) => `${v.pointer || '/'} ${v.message} (${v.rule})`).join('; ');
    throw new JobContractError(`${subject}: ${list}${more > 0 ? `; and ${more} more` : ''}`, 'payload', violations);
  }
  return { name: name as Name, data: payload as Jobs[Name] };
}

/**
 * Reads a job a node agent took from its queue: a known name, the agent's own contract version, a payload its
 * schema accepts. Returns the payload without the version, or throws a JobContractError that names the field and
 * the rule.
 */
export function readNodeJob(name: string, data: unknown): NodeJob {
  return readJob<NodeJobs, NodeJobName>('node', NODE_JOB_SCHEMAS, name, data, { sender: () => 'the broker', receiver: 'this node agent' }) as NodeJob;
}

/** Reads a job the broker took from its queue (from a node agent, or a router's wake), as readNodeJob does. */
export function readBrokerJob(name: string, data: unknown): BrokerJob {
  return readJob<BrokerJobs, BrokerJobName>('broker', BROKER_JOB_SCHEMAS, name, data, {
    sender: (n) => (n === 'app.wake' ? 'the router' : 'the node agent'),
    receiver: 'this broker',
  }) as BrokerJob;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as object)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** The hash of what a container is made from; a change in it means the container must be replaced. */
export function specHash(spec: GearSpec): string {
  const { running: _running, waitsFor: _waitsFor, ...shape } = spec;
  return createHash('sha256')
    .update(JSON.stringify(canonical(shape)))
    .digest('hex')
    .slice(0, 16);
}
