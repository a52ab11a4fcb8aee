import {
  GEAR_SIZES,
  gearSecurity,
  RESTRICTED_SECURITY,
  type AppHealth,
  type GearSecurity,
  renderTemplate,
  type Cartridge,
  type CartridgeOptions,
  type GearSize,
  type GearSpec,
  type HealthSpec,
  type RouteHealth,
  type TemplateContext,
  procfileCommand,
} from '@gearshift/cartridges';
import type { AppSecurityOverride } from './app.entity';
import type { ReleaseService } from './deployment.entity';

/** What the spec builder needs to know of an app; plain data, so the builder is a pure function. */
export interface AppShape {
  id: string;
  name: string;
  domain: string;
  state: 'started' | 'stopped' | 'idle' | 'deleting';
  size: GearSize;
  env: Record<string, string>;
  /** `supersededBy`: an upgrade moved the cartridge's data there; its gear stays stopped and it publishes nothing. */
  cartridges: { name: string; generated: Record<string, string>; options?: CartridgeOptions; supersededBy?: string }[];
  /**
   * `env`: what a web gear that a configuration change is rolling out starts with, instead of its release's or the
   * app's environment, which it takes only once the new gears are healthy.
   */
  gears: {
    id: string;
    cartridge: string;
    nodeId: string;
    generation: number;
    release?: GearRelease;
    /** The Procfile process type a gear of the web cartridge runs instead of serving (a worker); absent: web. */
    process?: string | null;
    /** The named service of the app the gear runs, as its release describes it; absent: none. */
    service?: string | null;
    ports?: Record<string, number>;
    env?: Record<string, string>;
  }[];
  /** Where each node's published ports are reached (node id → address): gears on other nodes reach services there. */
  nodeAddresses?: Record<string, string>;
  /** What an administrator allows the app's docker-image gears beyond the restricted default. */
  securityOverride?: AppSecurityOverride | null;
}

/** The deployed release a web gear runs: its image, and the environment and health check it was released with. */
export interface GearRelease {
  image: string;
  env: Record<string, string>;
  health?: AppHealth | null;
  /** The release's Procfile process types and their commands. */
  processes?: Record<string, string>;
  /** The release's named services, by name. */
  services?: Record<string, ReleaseService>;
}

export interface PublishedVar {
  name: string;
  value: string;
  secret: boolean;
  from: string;
}

/**
 * A named image's confinement: the restricted default, with what an administrator allowed this app. A cartridge's
 * gears keep what their manifest declares.
 */
function imageSecurity(o: AppSecurityOverride | null | undefined): GearSecurity {
  return {
    capabilities: [...(o?.capabilities ?? RESTRICTED_SECURITY.capabilities)].sort(),
    readOnlyRootFilesystem: o?.readOnlyRootfs ?? RESTRICTED_SECURITY.readOnlyRootFilesystem,
    tmpfs: [...RESTRICTED_SECURITY.tmpfs],
  };
}

const short = (id: string) => id.replace(/-/g, '').slice(0, 8);

/** The cartridge's own environment: fixed values rendered, generated values taken from what the app stored. */
function cartridgeEnv(c: Cartridge, app: AppShape, generated: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  const ctx = (): TemplateContext => ({ env, endpoint: endpointsOf(c), app: { name: app.name }, domain: { name: app.domain } });
  for (const e of c.manifest.env ?? []) {
    // A certificate is missing when the cartridge was embedded before it had one: the gear then runs without TLS,
    // and its spec (so its container) stays as it was.
    if (e.generate?.startsWith('tls-') && generated[e.name] === undefined) continue;
    env[e.name] = e.generate ? (generated[e.name] ?? '') : renderTemplate(e.value ?? '', ctx());
  }
  return env;
}

function endpointsOf(c: Cartridge): TemplateContext['endpoint'] {
  // Gears reach a cartridge by its name on the app's network (a network alias).
  return Object.fromEntries(c.manifest.endpoints.map((e) => [e.name, { host: c.manifest.name, port: e.port }]));
}

/**
 * How a gear on `nodeId` reaches a cartridge's endpoints: by its name on the app's network when the cartridge's gear
 * runs on the same node, else at the port its gear publishes on its own node's address.
 */
function endpointsFrom(c: Cartridge, app: AppShape, nodeId?: string): TemplateContext['endpoint'] {
  const publisher = app.gears.find((g) => g.cartridge === c.manifest.name);
  const address = publisher && app.nodeAddresses?.[publisher.nodeId];
  if (!nodeId || !publisher || publisher.nodeId === nodeId || !address) return endpointsOf(c);
  return Object.fromEntries(
    c.manifest.endpoints.map((e) => {
      const published = publisher.ports?.[e.name];
      return [e.name, published ? { host: address, port: published } : { host: c.manifest.name, port: e.port }];
    }),
  );
}

/**
 * The variables each cartridge of the app publishes to its subscribers (DATABASE_URL and friends), as a gear on
 * `nodeId` sees them (without a node: as gears beside the publisher do).
 */
export function publishedVars(app: AppShape, catalog: Map<string, Cartridge>, nodeId?: string): PublishedVar[] {
  const out: PublishedVar[] = [];
  for (const ac of app.cartridges) {
    const c = catalog.get(ac.name);
    if (!c || ac.supersededBy) continue;
    const env = cartridgeEnv(c, app, ac.generated);
    const ctx: TemplateContext = { env, endpoint: endpointsFrom(c, app, nodeId), app: { name: app.name }, domain: { name: app.domain } };
    for (const p of c.manifest.publishes ?? []) {
      out.push({ name: p.name, value: renderTemplate(p.value, ctx), secret: p.secret ?? false, from: c.manifest.name });
    }
  }
  return out;
}

/** A variable two or more of the app's cartridges publish: which ones, and whose value its gears get. */
export interface PublishedConflict {
  name: string;
  /** Every publisher, the one whose value is given first (the order the app's cartridges were added in). */
  from: string[];
  /** The publisher whose value gears get; null: the app's own environment sets the variable, and that wins. */
  given: string | null;
}

/**
 * The variables several cartridges publish (DATABASE_URL from two databases), in the order of the app's cartridges:
 * the first publisher's value is given, unless the app's own environment (`env`) sets the name, which every gear of
 * its code takes over any published value. A service's own `env:` chooses for that service alone.
 */
export function publishedConflicts(published: PublishedVar[], env: Record<string, string> = {}): PublishedConflict[] {
  const from = new Map<string, string[]>();
  for (const p of published) {
    const seen = from.get(p.name) ?? [];
    if (!seen.includes(p.from)) from.set(p.name, [...seen, p.from]);
  }
  return [...from]
    .filter(([, publishers]) => publishers.length > 1)
    .map(([name, publishers]) => ({ name, from: publishers, given: env[name] !== undefined ? null : publishers[0] }));
}

/** One line for people (the push's output, app show) about a variable several cartridges publish. */
export function conflictWarning(c: PublishedConflict): string {
  const who = `${c.from.slice(0, -1).join(', ')} and ${c.from[c.from.length - 1]}`;
  return c.given === null
    ? `${c.name} is published by ${who}; the app's own ${c.name} is given instead`
    : `${c.name} is published by both ${who}: ${c.given}'s is given (the cartridge added first); set ${c.name} in the app's env, or a service's env:, to choose`;
}

/** Environment variable names whose values are kept out of build, hook and one-off command output. */
const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|KEY|CREDENTIAL|PRIVATE)/i;

/**
 * The values the app's code sees that no output may show: what its cartridges generated, what its services
 * publish as secret, and its own variables whose names say they are secret.
 */
export function secretValues(app: AppShape, catalog: Map<string, Cartridge>, env: Record<string, string>): string[] {
  return [
    ...app.cartridges.flatMap((c) => Object.values(c.generated)),
    ...publishedVars(app, catalog)
      .filter((p) => p.secret)
      .map((p) => p.value),
    ...Object.entries(env)
      .filter(([k]) => SECRET_NAME.test(k))
      .map(([, v]) => v),
  ];
}

function healthOf(c: Cartridge): HealthSpec {
  for (const e of c.manifest.endpoints) {
    const h = e.health;
    if (!h) continue;
    const timeoutSeconds = h['timeout-seconds'] ?? 60;
    if (h.http) return { kind: 'http', port: e.port, path: h.http.path, ...(h.http.status !== undefined ? { status: h.http.status } : {}), timeoutSeconds };
    if (h.command) return { kind: 'command', command: [...h.command], timeoutSeconds };
    if (h.tcp) return { kind: 'tcp', port: e.port, timeoutSeconds };
  }
  return { kind: 'none', timeoutSeconds: 60 };
}

/** A named image is healthy when its port answers HTTP at the given path, or at least accepts connections. */
function imageHealth(o: CartridgeOptions): HealthSpec {
  const port = o.port ?? 8080;
  return o.health ? { kind: 'http', port, path: o.health, timeoutSeconds: 120 } : { kind: 'tcp', port, timeoutSeconds: 120 };
}

/**
 * The health check of a cartridge's gears in an app: the one the rollout waits for and the router applies. A web
 * gear that runs a release uses the check the release was deployed with, over the cartridge's: the app's own code is
 * what answers it (the cartridge's starter app knows nothing of the app's routes).
 */
export function gearHealth(c: Cartridge, options: CartridgeOptions = {}, release?: GearRelease): HealthSpec {
  const base = c.manifest.image['from-app'] ? imageHealth(options) : healthOf(c);
  const own = release?.health;
  if (!own) return base;
  const timeoutSeconds = own.timeoutSeconds ?? base.timeoutSeconds;
  const http = c.manifest.endpoints.find((e) => e.protocol === 'http' && e.public);
  const port = base.kind === 'http' || base.kind === 'tcp' ? base.port : http ? (c.manifest.image['from-app'] && options.port) || http.port : undefined;
  if (port === undefined) return { ...base, timeoutSeconds };
  if (own.path !== undefined) return { kind: 'http', port, path: own.path, ...(own.status !== undefined ? { status: own.status } : {}), timeoutSeconds };
  if (own.status !== undefined) return { kind: 'http', port, path: base.kind === 'http' ? base.path : '/', status: own.status, timeoutSeconds };
  return { ...base, timeoutSeconds };
}

/** The router's side of a web gear's health check: a command runs inside the gear, so the router has none. */
export function routeHealth(h: HealthSpec): RouteHealth | null {
  if (h.kind === 'http') return { kind: 'http', path: h.path, ...(h.status !== undefined ? { status: h.status } : {}) };
  if (h.kind === 'tcp') return { kind: 'tcp' };
  return null;
}

/**
 * The paths of volumes given without a name: each gear's own (anonymous) volume, made from its image's content and
 * removed with it, as Docker runs a compose file's `- /app/node_modules`. Absent when there are none, so that the
 * spec (and its hash) of every other gear stays as it was.
 */
function anonymousVolumes(volumes: { name?: string; path: string }[] | undefined): Pick<GearSpec, 'anonymousVolumes'> {
  const paths = (volumes ?? []).flatMap((v) => (v.name ? [] : [v.path]));
  return paths.length ? { anonymousVolumes: paths } : {};
}

/**
 * The names an app gives a cartridge's gears beside the cartridge's own. A database an upgrade replaced gives its
 * names to the one that replaced it, which serves in its place (and takes them back if the upgrade is aborted).
 */
function extraAliases(app: AppShape, cartridge: string): string[] {
  const own = app.cartridges.find((c) => c.name === cartridge);
  const from = own?.supersededBy ? [] : app.cartridges.filter((c) => c.name === cartridge || c.supersededBy === cartridge);
  return [...new Set(from.flatMap((c) => c.options?.aliases ?? []))];
}

/** What every gear is told of itself: its app, domain, id and cartridge. */
function gearIdentity(app: AppShape, g: AppShape['gears'][number]): Record<string, string> {
  return { GEARSHIFT_APP: app.name, GEARSHIFT_DOMAIN: app.domain, GEARSHIFT_GEAR_ID: g.id, GEARSHIFT_CARTRIDGE: g.cartridge };
}

/** Computes the spec of every gear of an app. Deterministic: the same app always gives the same specs. */
export function buildGearSpecs(app: AppShape, catalog: Map<string, Cartridge>, instance: string): GearSpec[] {
  const publishedOn = new Map<string, PublishedVar[]>();
  const gears = [...app.gears].sort((a, b) => a.id.localeCompare(b.id));
  return gears.map((g): GearSpec => {
    if (!publishedOn.has(g.nodeId)) publishedOn.set(g.nodeId, publishedVars(app, catalog, g.nodeId));
    const published = publishedOn.get(g.nodeId)!;
    if (g.service) return serviceSpec(app, g, published, instance);
    const c = catalog.get(g.cartridge);
    if (!c) throw new Error(`gear ${g.id} uses cartridge ${g.cartridge}, which is not in the catalogue`);
    const ac = app.cartridges.find((x) => x.name === g.cartridge);
    const options = ac?.options ?? {};
    const size = GEAR_SIZES[options.size ?? app.size];
    // docker-image: the app names the image, its port, health path, environment and volumes.
    const fromApp = Boolean(c.manifest.image['from-app']);
    const subscribes = new Set<string>(c.manifest.subscribes ?? []);
    const env: Record<string, string> = cartridgeEnv(c, app, ac?.generated ?? {});
    // A named image's own variables first: what the app's services publish (DATABASE_URL...) takes precedence.
    if (fromApp) Object.assign(env, options.env ?? {});
    // When two services publish the same name (two databases, both DATABASE_URL), the one embedded first keeps it.
    const given = new Set<string>();
    for (const p of published) {
      if (p.from === g.cartridge || given.has(p.name)) continue;
      const publisher = catalog.get(p.from);
      if (publisher?.manifest.categories.some((cat) => subscribes.has(cat))) {
        env[p.name] = p.value;
        given.add(p.name);
      }
    }
    // A process gear (a worker) is the app's code like its web gears, with their environment, but serves nothing.
    const appCode = c.manifest.categories.includes('web');
    const processType = appCode && g.process ? g.process : undefined;
    const isWeb = appCode && !processType;
    if (appCode) Object.assign(env, g.env ?? g.release?.env ?? app.env);
    Object.assign(env, gearIdentity(app, g));
    if (processType) {
      const line = g.release?.processes?.[processType];
      if (!g.release || !line) throw new Error(`gear ${g.id} runs process ${processType}, which its release does not name`);
      return {
        gearId: g.id,
        appId: app.id,
        app: app.name,
        domain: app.domain,
        cartridge: g.cartridge,
        process: processType,
        web: false,
        image: { ref: g.release.image },
        command: procfileCommand(line),
        containerName: `${instance}-${app.name}-${app.domain}-${processType}-${short(g.id)}`,
        network: `${instance}-${short(app.id)}-${short(g.nodeId)}`,
        hostname: `${processType.toLowerCase().replace(/_/g, '-')}-${short(g.id)}`,
        // Nothing reaches a worker by name: the cartridge's name is its web gears'.
        aliases: [],
        env,
        ports: [],
        volumes: [],
        resources: { memoryMb: size.memoryMb, cpus: size.cpus, pids: size.pids },
        security: gearSecurity(c.manifest.security),
        // Healthy while it runs: a worker answers nothing.
        health: { kind: 'none', timeoutSeconds: 60 },
        // An idle app stops only what requests wake again: its web gears.
        running: app.state === 'started' || app.state === 'idle',
        generation: g.generation,
      };
    }
    return {
      gearId: g.id,
      appId: app.id,
      app: app.name,
      domain: app.domain,
      cartridge: g.cartridge,
      web: isWeb,
      // A deployed release runs its own image, with the command and user the image says.
      image: g.release
        ? { ref: g.release.image }
        : fromApp
          ? { ref: options.image ?? '' }
          : c.manifest.image.ref
            ? { ref: c.manifest.image.ref }
            : { build: { cartridge: c.manifest.name, hash: c.hash } },
      command: g.release ? undefined : fromApp ? options.command : c.manifest.command ? [...c.manifest.command] : undefined,
      // An administrator may let an app's named image run as root whatever user it names.
      user: fromApp && app.securityOverride?.runAsRoot ? '0:0' : g.release ? undefined : c.manifest.user,
      containerName: `${instance}-${app.name}-${app.domain}-${g.cartridge}-${short(g.id)}`,
      network: `${instance}-${short(app.id)}-${short(g.nodeId)}`,
      hostname: `${g.cartridge}-${short(g.id)}`,
      // ...and by the names the app gives it (a compose file's service name: `postgres`, `redis`).
      aliases: [g.cartridge, ...extraAliases(app, g.cartridge)],
      env,
      // Every endpoint is published on the node's address: routers reach web gears there, and gears of the app on
      // other nodes its services. (`public` says which endpoint the routers serve.)
      ports: c.manifest.endpoints.map((e) => ({
        name: e.name,
        containerPort: fromApp && options.port ? options.port : e.port,
        protocol: e.protocol,
        publish: true,
      })),
      volumes: (fromApp ? (options.volumes ?? []) : (c.manifest.volumes ?? [])).flatMap((v) =>
        v.name ? [{ name: `${instance}-${app.id}-${g.cartridge}-${v.name}`, path: v.path }] : [],
      ),
      ...anonymousVolumes(fromApp ? options.volumes : undefined),
      resources: { memoryMb: size.memoryMb, cpus: size.cpus, pids: size.pids },
      // A named image declares nothing: it gets the restricted default (no capabilities, no new privileges), or
      // what an administrator allowed the app.
      security: fromApp ? imageSecurity(app.securityOverride) : gearSecurity(c.manifest.security),
      health: gearHealth(c, options, isWeb ? g.release : undefined),
      // An idle app keeps its services (data, connections) and stops only its web gears. A database an upgrade
      // replaced stops, its volume kept until the upgrade is confirmed.
      running: !ac?.supersededBy && (app.state === 'started' || (app.state === 'idle' && !isWeb)),
      generation: g.generation,
    };
  });
}

/**
 * A service's command line, run by a shell: a simple command replaces the shell (as a Procfile line does, so that it
 * gets the stop signal); a list, a loop or a pipeline cannot, and runs under the shell.
 */
export function shellCommand(line: string): string[] {
  return /[;&|\n]|^\s*(while|until|for|if|case|\{|\()/.test(line) ? ['/bin/sh', '-c', line] : procfileCommand(line);
}

/** The web service that answers at the app's host name (the one without hosts of its own), if any. */
export const appHostService = (services: Record<string, Pick<ReleaseService, 'kind' | 'hosts'>>): string | undefined =>
  Object.entries(services).find(([, s]) => s.kind === 'web' && !s.hosts)?.[0];

/** A service's health check: a worker's is that it runs; a web or internal one answers on its port. */
export function serviceHealth(s: ReleaseService): HealthSpec {
  if (s.kind === 'worker' || s.port === undefined) return { kind: 'none', timeoutSeconds: 60 };
  const timeoutSeconds = s.health?.timeoutSeconds ?? 120;
  if (s.health?.path !== undefined || s.health?.status !== undefined)
    return { kind: 'http', port: s.port, path: s.health.path ?? '/', ...(s.health.status !== undefined ? { status: s.health.status } : {}), timeoutSeconds };
  return { kind: 'tcp', port: s.port, timeoutSeconds };
}

/**
 * The spec of a gear of one of the app's named services, from its release: the service's image and command, the
 * app's environment with the service's own and what the app's cartridges publish (every service subscribes to every
 * publisher), confined as a named image is. Web and internal services are reached by their name on the app's
 * network and publish their port like other gears; a worker serves nothing.
 */
function serviceSpec(app: AppShape, g: AppShape['gears'][number], published: PublishedVar[], instance: string): GearSpec {
  const name = g.service!;
  const s = g.release?.services?.[name];
  if (!g.release || !s) throw new Error(`gear ${g.id} runs service ${name}, which its release does not name`);
  const size = GEAR_SIZES[s.size ?? app.size];
  // Of two publishers of a name, the one added first gives it. A gearshift.yml's service: what the cartridges publish,
  // then the app's own environment, then the service's own (a variable the app or the service sets is theirs). A
  // compose file's: its own env, written for the file's database containers, gives way to what the cartridges
  // publish, and the app's environment (set here, never by the file) to nothing.
  const env: Record<string, string> = {};
  const given: Record<string, string> = {};
  for (const p of published) if (given[p.name] === undefined) given[p.name] = p.value;
  const appEnv = g.env ?? g.release.env ?? app.env;
  if (s.envOverPublished) Object.assign(env, given, appEnv, s.env ?? {});
  else Object.assign(env, s.env ?? {}, given, appEnv);
  if (s.port !== undefined && env.PORT === undefined) env.PORT = String(s.port);
  Object.assign(env, gearIdentity(app, g), { GEARSHIFT_SERVICE: name });
  const serves = s.kind !== 'worker' && s.port !== undefined;
  return {
    gearId: g.id,
    appId: app.id,
    app: app.name,
    domain: app.domain,
    cartridge: g.cartridge,
    service: name,
    web: s.kind === 'web',
    ...(s.dependsOn?.length ? { waitsFor: [...s.dependsOn] } : {}),
    image: { ref: s.image },
    command: s.command === undefined ? undefined : typeof s.command === 'string' ? shellCommand(s.command) : [...s.command],
    ...(s.entrypoint !== undefined ? { entrypoint: [...s.entrypoint] } : {}),
    ...(s.workingDir !== undefined ? { workingDir: s.workingDir } : {}),
    user: app.securityOverride?.runAsRoot ? '0:0' : undefined,
    containerName: `${instance}-${app.name}-${app.domain}-${name}-${short(g.id)}`,
    network: `${instance}-${short(app.id)}-${short(g.nodeId)}`,
    hostname: `${name}-${short(g.id)}`,
    // Services reach each other by name; nothing reaches a worker.
    aliases: serves ? [name] : [],
    env,
    ports: serves ? [{ name: s.kind === 'web' ? 'http' : 'tcp', containerPort: s.port!, protocol: s.kind === 'web' ? 'http' : 'tcp', publish: true }] : [],
    volumes: (s.volumes ?? []).flatMap((v) => (v.name ? [{ name: `${instance}-${app.id}-svc-${name}-${v.name}`, path: v.path }] : [])),
    ...anonymousVolumes(s.volumes),
    resources: { memoryMb: size.memoryMb, cpus: size.cpus, pids: size.pids },
    security: imageSecurity(app.securityOverride),
    health: serviceHealth(s),
    // An idle app stops only what requests wake again: its web gears.
    running: app.state === 'started' || (app.state === 'idle' && s.kind !== 'web'),
    generation: g.generation,
  };
}
