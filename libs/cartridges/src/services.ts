import type { FromSchema } from 'json-schema-to-ts';
import { envNamePattern } from './manifest.schema';
import { appHealthSchema } from './app-health';
import type { Violation } from './validation';

/**
 * Named services of an app, beside its catalogue cartridges: each one the app's own code, built from a folder of the
 * repository or run from an image. A `web` service is routed (one of them gets the app's host name, the others
 * name their own `hosts`), an `internal` one is reached by its name on the app's network only, on its port, and a
 * `worker` serves nothing and is healthy while it runs.
 */

/**
 * A service's name: what it is reached by on the app's network, so a DNS label (and part of a container name). The
 * one such label that every object carries (`constructor`) is no service's name: services are looked up by name.
 */
export const SERVICE_NAME = '^(?!constructor$)[a-z]([a-z0-9-]{0,30}[a-z0-9])?$';

export const SERVICE_KINDS = ['web', 'internal', 'worker'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

/** What is said of a build path given from the root of the machine (`/etc`) rather than of the repository. */
export const relativePathMessage = (context: string, service: string): string =>
  `is an absolute path (${context}): build paths are relative to the repository, such as ./${service}`;

/** The port a web or internal service listens on when it names none, as for a docker-image gear. */
export const DEFAULT_SERVICE_PORT = 8080;

const hostName = { type: 'string', pattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$' } as const;
const words = { type: 'string', minLength: 1, maxLength: 4096 } as const;

export const serviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { type: 'string', enum: SERVICE_KINDS },
    /** A folder of the repository: its Dockerfile, or the recipe of the runtime its files call for. */
    build: {
      oneOf: [
        { type: 'string', minLength: 1, maxLength: 255 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['context'],
          properties: {
            context: { type: 'string', minLength: 1, maxLength: 255 },
            dockerfile: { type: 'string', minLength: 1, maxLength: 255 },
            target: { type: 'string', minLength: 1, maxLength: 128 },
          },
        },
      ],
    },
    image: { type: 'string', format: 'image-reference', maxLength: 255 },
    /** A string runs through a shell, as a Procfile line does; a list runs as it stands. */
    command: { oneOf: [words, { type: 'array', minItems: 1, maxItems: 100, items: words }] },
    /**
     * Replaces the image's ENTRYPOINT, as a list run as it stands (`command` is then its arguments, as in docker
     * compose); an empty list runs the image with no entrypoint.
     */
    entrypoint: { type: 'array', maxItems: 100, items: { type: 'string', maxLength: 4096 } },
    /** The directory the service's process starts in, an absolute path (absent: the image's WORKDIR). */
    workingDir: { type: 'string', pattern: '^/', minLength: 1, maxLength: 255 },
    env: { type: 'object', maxProperties: 200, propertyNames: { pattern: envNamePattern }, additionalProperties: { type: ['string', 'number', 'boolean'] } },
    size: { type: 'string', enum: ['small', 'medium', 'large'] },
    scale: { type: 'integer', minimum: 0, maximum: 100 },
    autoscale: {
      type: 'object',
      additionalProperties: false,
      required: ['min', 'max'],
      properties: {
        min: { type: 'integer', minimum: 1, maximum: 100 },
        max: { type: 'integer', minimum: 1, maximum: 100 },
        targetConcurrency: { type: 'integer', minimum: 1, maximum: 10000 },
      },
    },
    health: appHealthSchema,
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    /** A web service's own host names; the one web service without them answers at the app's. */
    hosts: { type: 'array', uniqueItems: true, minItems: 1, maxItems: 20, items: hostName },
    /** Services (or cartridges) of the app that start before this one. */
    dependsOn: { type: 'array', uniqueItems: true, maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 64 } },
    /**
     * Named volumes keep their data across releases. One without a name is each gear's own, made from its image's
     * content at that path and removed with the gear, as Docker does with a compose file's anonymous volume.
     */
    volumes: {
      type: 'array',
      maxItems: 20,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path'],
        properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' }, path: { type: 'string', pattern: '^/', maxLength: 255 } },
      },
    },
  },
  not: { required: ['scale', 'autoscale'] },
} as const;

export const servicesSchema = {
  type: 'object',
  maxProperties: 50,
  propertyNames: { pattern: SERVICE_NAME },
  additionalProperties: serviceSchema,
} as const;

export type ServiceDescriptor = FromSchema<typeof serviceSchema>;

/** The folder a service is built from, as a path inside the repository (no `./`, no trailing slash; `.` the root). */
export function buildContext(build: ServiceDescriptor['build']): string | undefined {
  if (build === undefined) return undefined;
  const raw = typeof build === 'string' ? build : build.context;
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  return parts.length ? parts.join('/') : '.';
}

/** The port a web or internal service listens on; a worker has none. */
export const servicePort = (s: ServiceDescriptor): number | undefined => (s.kind === 'worker' ? undefined : (s.port ?? DEFAULT_SERVICE_PORT));

/**
 * The services in the order they start: each after what it depends on, otherwise as written. Names that are not
 * services (cartridges, which start first anyway) do not order anything; a cycle leaves the rest as written.
 */
export function startOrder(services: Record<string, Pick<ServiceDescriptor, 'dependsOn'>>): string[] {
  const names = Object.keys(services);
  const out: string[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const visit = (n: string) => {
    if (placed.has(n) || visiting.has(n) || !(n in services)) return;
    visiting.add(n);
    for (const d of services[n].dependsOn ?? []) visit(d);
    visiting.delete(n);
    placed.add(n);
    out.push(n);
  };
  names.forEach(visit);
  return out;
}

/** A dependency cycle among the services, as the names along it (first name repeated at the end), or null. */
function findCycle(services: Record<string, Pick<ServiceDescriptor, 'dependsOn'>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done' || !(n in services)) return null;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const d of services[n].dependsOn ?? []) {
      const cycle = visit(d);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of Object.keys(services)) {
    const cycle = visit(n);
    if (cycle) return cycle;
  }
  return null;
}

/**
 * What the schema cannot say of an app's services: how the fields of one service go together, and how the
 * services fit the app (names, the app's host name, dependencies). `cartridges` are the names of the app's
 * catalogue cartridges, which share the network's names with the services. Every violation is listed.
 */
export function serviceViolations(services: Record<string, ServiceDescriptor>, cartridges: string[]): Violation[] {
  const out: Violation[] = [];
  const appHost: string[] = [];
  for (const [name, s] of Object.entries(services)) {
    const at = `/services/${name}`;
    if (cartridges.includes(name))
      out.push({
        pointer: at,
        rule: 'unique-name',
        message: `is the name of a cartridge of the app, which gears reach by that name; name the service otherwise`,
      });
    if ((s.build === undefined) === (s.image === undefined))
      out.push({
        pointer: `${at}/build`,
        rule: 'build-or-image',
        message: 'a service is built from a folder of the repository (build) or runs an image (image): give exactly one',
      });
    const context = s.build === undefined ? undefined : typeof s.build === 'string' ? s.build : s.build.context;
    const contextAt = typeof s.build === 'object' ? `${at}/build/context` : `${at}/build`;
    if (context !== undefined && context.startsWith('/')) out.push({ pointer: contextAt, rule: 'relative-path', message: relativePathMessage(context, name) });
    else if (context !== undefined && context.split('/').includes('..'))
      out.push({
        pointer: contextAt,
        rule: 'inside-repository',
        message: `${context} is not a folder of the repository: give a relative path such as ./${name}`,
      });
    if (s.kind === 'worker') {
      if (s.port !== undefined)
        out.push({ pointer: `${at}/port`, rule: 'worker-port', message: 'a worker serves nothing and has no port; make it internal or web to reach it' });
      if (s.health !== undefined)
        out.push({ pointer: `${at}/health`, rule: 'worker-health', message: 'a worker is healthy while it runs; it answers no check' });
      if (s.autoscale !== undefined)
        out.push({ pointer: `${at}/autoscale`, rule: 'web-only', message: 'autoscaling follows the requests a web service serves; give a worker a scale' });
    }
    if (s.kind !== 'web' && s.hosts !== undefined)
      out.push({
        pointer: `${at}/hosts`,
        rule: 'web-only',
        message: `only a web service is routed; ${s.kind === 'internal' ? 'an internal service' : 'a worker'} has no host names`,
      });
    if (s.kind === 'internal' && s.port === undefined)
      out.push({ pointer: `${at}/port`, rule: 'required', message: 'an internal service is reached by its name on the port it listens on: name the port' });
    if (s.autoscale && s.autoscale.min > s.autoscale.max)
      out.push({ pointer: `${at}/autoscale/min`, rule: 'range', message: `must not exceed max (${s.autoscale.max})` });
    if (s.kind === 'web' && s.hosts === undefined) appHost.push(name);
    for (const d of s.dependsOn ?? []) {
      if (d === name) out.push({ pointer: `${at}/dependsOn`, rule: 'acyclic', message: 'a service cannot wait for itself' });
      else if (!(d in services) && !cartridges.includes(d))
        out.push({ pointer: `${at}/dependsOn`, rule: 'known-service', message: `${d} is neither a service nor a cartridge of the app` });
    }
  }
  for (const name of appHost.slice(1))
    out.push({
      pointer: `/services/${name}/hosts`,
      rule: 'one-app-host',
      message: `${appHost[0]} answers at the app's host name; every other web service names its own hosts`,
    });
  const cycle = findCycle(Object.fromEntries(Object.entries(services).map(([n, s]) => [n, { dependsOn: (s.dependsOn ?? []).filter((d) => d !== n) }])));
  if (cycle)
    out.push({ pointer: `/services/${cycle[0]}/dependsOn`, rule: 'acyclic', message: `the services wait for each other in a circle: ${cycle.join(' → ')}` });
  return out;
}
