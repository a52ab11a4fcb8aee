/**
 * Importing a docker-compose.yml / compose.yaml into Gearshift's model. Pure: text in, a plan out. Services whose
 * images match a catalogue cartridge become managed cartridges wired by publish/subscribe; the rest become custom
 * containers. Every key that is not honoured is listed with the reason; what stops the app from running here is
 * listed as a blocker. Nothing is ignored in silence, and no input makes it throw.
 */

import { entryName, type CartridgeEntry } from './cartridge-options';
import { imageReferenceProblem, parseImageReference } from './image-reference';
import { MAX_YAML_ALIASES, yamlLimitViolation } from './yaml-limits';

export interface ComposeIssue {
  pointer: string;
  reason: string;
}

export interface ServicePlan {
  service: string;
  becomes: { kind: 'cartridge'; cartridge: string } | { kind: 'container'; image?: string; build?: { context: string; dockerfile?: string; target?: string } };
  ports: { published?: number; target: number }[];
  env: Record<string, string>;
  volumes: { name: string; path: string }[];
  dependsOn: { service: string; condition: string }[];
  healthcheck?: string[];
  secrets: string[];
  command?: string[];
  notes: string[];
}

export interface ComposeImport {
  services: ServicePlan[];
  volumes: string[];
  secrets: { name: string; file?: string }[];
  unsupported: ComposeIssue[];
  /** Interpolation that fell back to empty values, and similar things worth knowing. */
  warnings: ComposeIssue[];
  blockers: ComposeIssue[];
  /** The app as Gearshift runs it, when nothing blocks it: catalogue cartridges and a docker-image web gear. */
  cartridges: CartridgeEntry[] | null;
}

/** Images that become catalogue cartridges, by repository name (registry and tag stripped). */
export const COMPOSE_IMAGE_CARTRIDGES: Record<string, string> = {
  postgres: 'postgresql-15',
  postgresql: 'postgresql-15',
  mysql: 'mariadb-10.11',
  mariadb: 'mariadb-10.11',
  redis: 'redis-7',
  nginx: 'static',
};

/** Service keys the importer turns into Gearshift's model. */
export const SERVICE_KEYS_HONOURED = new Set([
  'image',
  'build',
  'environment',
  'env_file',
  'ports',
  'expose',
  'volumes',
  'depends_on',
  'healthcheck',
  'secrets',
  'command',
  'restart',
]);
const SERVICE_KEYS_REASONS: Record<string, string> = {
  container_name: 'Gearshift names containers itself (by app, domain, cartridge and gear)',
  hostname: 'gears are reached by their cartridge name on the app network',
  networks: 'each app has one private network of its own; declared networks are not used',
  network_mode: 'gears always run on their app network',
  cap_add: 'extra kernel capabilities are not granted to gears',
  privileged: 'privileged gears are not allowed',
  sysctls: 'kernel settings of gears are not configurable',
  runtime: 'gears use the Docker Engine default runtime',
  platform: 'nodes build and run their own architecture',
  deploy: 'replicas and resources come from the app scale and gear size',
  user: 'cartridges choose the user their process runs as',
  stop_signal: 'gears are stopped with SIGTERM and a grace period',
  stdin_open: 'gears have no standard input',
  tty: 'gears have no terminal',
  labels: 'Gearshift labels its containers itself',
};

/** Compose variable interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $$ for a dollar. */
export function interpolate(text: string, vars: Record<string, string>, issues: ComposeIssue[] = []): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced, op, arg, bare) => {
    if (whole === '$$') return '$';
    const name = braced ?? bare;
    const value = vars[name];
    const unset = value === undefined;
    const empty = unset || value === '';
    if (op === ':-') return empty ? arg : value;
    if (op === '-') return unset ? arg : value;
    if (op === ':?' || op === '?') {
      if (op === ':?' ? empty : unset) issues.push({ pointer: `\${${name}}`, reason: `is required: ${arg || 'not set'}` });
      return value ?? '';
    }
    if (unset) issues.push({ pointer: `\${${name}}`, reason: 'is not set (no .env value and no default): it becomes an empty string' });
    return value ?? '';
  });
}

/** Reads a .env file: NAME=value lines, # comments, optional quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    out[m[1]] = m[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const repoOf = (image: string) => parseImageReference(image).path.split('/').pop()!;

function listOrMap(v: unknown): Record<string, string> {
  if (Array.isArray(v)) {
    return Object.fromEntries(v.map(String).map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, ''])));
  }
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x === null ? '' : String(x)]));
  return {};
}

function parsePort(p: unknown): { published?: number; target: number } | null {
  if (typeof p === 'number') return { target: p };
  if (isObject(p)) return { target: Number(p.target), published: p.published ? Number(p.published) : undefined };
  const parts = String(p).split('/')[0].split(':');
  const target = Number(parts[parts.length - 1].split('-')[0]);
  const published = parts.length > 1 ? Number(parts[parts.length - 2].split('-')[0]) : undefined;
  return Number.isFinite(target) ? { target, published: Number.isFinite(published) ? published : undefined } : null;
}

export interface ImportOptions {
  /** Values for interpolation (the .env file next to the compose file). */
  env?: Record<string, string>;
  /** Host bind mounts and the Docker socket are for administrators only. */
  admin?: boolean;
}

/**
 * A healthcheck's `test` as Compose runs it: `[CMD, arg…]` is executed as it stands, `[CMD-SHELL, command]` and the
 * plain string form run through `sh -c`, and `[NONE]` turns the check off.
 */
function healthcheckCommand(test: unknown): string[] | undefined {
  if (!Array.isArray(test)) return ['sh', '-c', String(test)];
  const [form, ...rest] = test.map(String);
  if (form === 'NONE') return undefined;
  if (form === 'CMD-SHELL') return ['sh', '-c', rest.join(' ')];
  return form === 'CMD' ? rest : [form, ...rest];
}

export function importCompose(text: string, opts: ImportOptions = {}): ComposeImport {
  const result: ComposeImport = { services: [], volumes: [], secrets: [], unsupported: [], warnings: [], blockers: [], cartridges: null };
  let doc: unknown;
  // Refused before it is built, and before its variables are replaced: a hostile file's nodes would take many
  // times its size in memory.
  const raw = yamlLimitViolation(text);
  const interpolated = raw ? '' : interpolate(text, opts.env ?? {}, result.warnings);
  const tooLarge = raw ?? yamlLimitViolation(interpolated);
  if (tooLarge) {
    result.blockers.push({ pointer: '', reason: tooLarge.message });
    return result;
  }
  try {
    doc = (require('yaml') as typeof import('yaml')).parse(interpolated, { merge: true, maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    result.blockers.push({ pointer: '', reason: `is not valid YAML: ${(err as Error).message.split('\n')[0]}` });
    return result;
  }
  if (!isObject(doc) || !isObject(doc.services)) {
    result.blockers.push({ pointer: '/services', reason: 'a compose file needs a services map' });
    return result;
  }
  for (const key of Object.keys(doc)) {
    if (key === 'services') continue;
    if (key === 'volumes' && isObject(doc.volumes)) result.volumes = Object.keys(doc.volumes);
    else if (key === 'secrets' && isObject(doc.secrets)) {
      for (const [name, s] of Object.entries(doc.secrets)) {
        const file = isObject(s) && typeof s.file === 'string' ? s.file : undefined;
        result.secrets.push({ name, file });
        if (!file) result.unsupported.push({ pointer: `/secrets/${name}`, reason: 'only file secrets are supported' });
      }
    } else if (key === 'version') result.unsupported.push({ pointer: '/version', reason: 'obsolete in the compose specification; not used' });
    else if (key === 'name') result.unsupported.push({ pointer: '/name', reason: 'the app is named when it is imported' });
    else if (key === 'networks') result.unsupported.push({ pointer: '/networks', reason: SERVICE_KEYS_REASONS.networks });
    else if (!key.startsWith('x-')) result.unsupported.push({ pointer: `/${key}`, reason: 'is not a key Gearshift imports' });
  }

  for (const [name, raw] of Object.entries(doc.services)) {
    const base = `/services/${name}`;
    if (!isObject(raw)) {
      result.blockers.push({ pointer: base, reason: 'is not a service definition' });
      continue;
    }
    const plan: ServicePlan = { service: name, becomes: { kind: 'container' }, ports: [], env: {}, volumes: [], dependsOn: [], secrets: [], notes: [] };
    for (const key of Object.keys(raw)) {
      if (SERVICE_KEYS_HONOURED.has(key) || key.startsWith('x-')) continue;
      result.unsupported.push({ pointer: `${base}/${key}`, reason: SERVICE_KEYS_REASONS[key] ?? 'is not a key Gearshift imports' });
    }
    let image = typeof raw.image === 'string' ? raw.image : undefined;
    const imageProblem = image !== undefined ? imageReferenceProblem(image) : raw.image !== undefined ? 'must be a string' : undefined;
    if (imageProblem) {
      // Read as Docker would before anything reaches a node; a bad reference blocks the import and names the field.
      result.blockers.push({ pointer: `${base}/image`, reason: `is not an image reference: ${imageProblem}` });
      image = undefined;
    }
    const cartridge = image ? COMPOSE_IMAGE_CARTRIDGES[repoOf(image)] : undefined;
    if (cartridge && raw.build === undefined) {
      plan.becomes = { kind: 'cartridge', cartridge };
      plan.notes.push(
        cartridge === 'static'
          ? `${image} becomes the static cartridge; the router does the proxying, so an nginx proxy configuration is not used`
          : `${image} becomes the ${cartridge} cartridge; its credentials are generated and published to the app's web gears`,
      );
    } else if (raw.build !== undefined) {
      const b = isObject(raw.build) ? raw.build : { context: String(raw.build) };
      const build = {
        context: String(b.context ?? '.'),
        dockerfile: b.dockerfile ? String(b.dockerfile) : undefined,
        target: b.target ? String(b.target) : undefined,
      };
      plan.becomes = { kind: 'container', build, ...(image ? { image } : {}) };
      plan.notes.push(
        `built from the context ${build.context}${build.dockerfile ? ` (${build.dockerfile})` : ''}${build.target ? `, target ${build.target}` : ''}: that folder must be uploaded with the app`,
      );
    } else if (image) {
      plan.becomes = { kind: 'container', image };
    } else if (!imageProblem) {
      result.blockers.push({ pointer: base, reason: 'has neither image nor build' });
    }
    plan.env = listOrMap(raw.environment);
    if (plan.becomes.kind === 'cartridge' && Object.keys(plan.env).length > 0 && plan.becomes.cartridge !== 'static') {
      plan.notes.push(`its environment (${Object.keys(plan.env).join(', ')}) gives way to the cartridge's generated credentials`);
    }
    if (raw.env_file !== undefined) plan.notes.push(`reads ${[raw.env_file].flat().join(', ')} at import: those files must be present`);
    for (const p of [raw.ports, raw.expose].flat().filter((x) => x !== undefined)) {
      const port = parsePort(p);
      if (port) plan.ports.push(port);
      else result.unsupported.push({ pointer: `${base}/ports`, reason: `cannot read the port ${JSON.stringify(p)}` });
    }
    for (const [i, v] of (Array.isArray(raw.volumes) ? raw.volumes : []).entries()) {
      const spec = isObject(v) ? v : { type: undefined, source: String(v).split(':')[0], target: String(v).split(':')[1] };
      const source = String(spec.source ?? '');
      const target = String(spec.target ?? '');
      const bind = spec.type === 'bind' || source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
      if (source === '/var/run/docker.sock' || target === '/var/run/docker.sock') {
        result.blockers.push({ pointer: `${base}/volumes/${i}`, reason: 'mounts the Docker socket, which would hand the node to the app; refused' });
      } else if (bind) {
        if (opts.admin) plan.notes.push(`bind-mounts ${source} from the node at ${target} (allowed for administrators)`);
        else result.blockers.push({ pointer: `${base}/volumes/${i}`, reason: `bind-mounts ${source} from the host; only administrators may mount host paths` });
      } else if (source && target) {
        plan.volumes.push({ name: source, path: target });
      } else if (target || source) {
        plan.volumes.push({ name: `${name}-${i}`, path: target || source });
      }
    }
    const deps = raw.depends_on;
    if (Array.isArray(deps)) plan.dependsOn = deps.map((s) => ({ service: String(s), condition: 'service_started' }));
    else if (isObject(deps))
      plan.dependsOn = Object.entries(deps).map(([s, d]) => ({ service: s, condition: isObject(d) && d.condition ? String(d.condition) : 'service_started' }));
    for (const d of plan.dependsOn) {
      if (!(d.service in doc.services))
        result.blockers.push({ pointer: `${base}/depends_on`, reason: `depends on ${d.service}, which the file does not define` });
    }
    if (isObject(raw.healthcheck) && raw.healthcheck.test !== undefined) {
      const t = raw.healthcheck.test;
      plan.healthcheck = healthcheckCommand(t);
    }
    plan.secrets = (Array.isArray(raw.secrets) ? raw.secrets : []).map((s) => (isObject(s) ? String(s.source) : String(s)));
    for (const s of plan.secrets) {
      if (!result.secrets.some((x) => x.name === s) && !(isObject(doc.secrets) && s in doc.secrets)) {
        result.blockers.push({ pointer: `${base}/secrets`, reason: `uses the secret ${s}, which the file does not define` });
      }
    }
    if (raw.command !== undefined) plan.command = Array.isArray(raw.command) ? raw.command.map(String) : String(raw.command).split(/\s+/).filter(Boolean);
    result.services.push(plan);
  }

  // What runs here: catalogue cartridges, and at most one custom container from an image, which becomes the app's
  // web gear (docker-image). An nginx in front of it is dropped: the router does the proxying.
  const custom = result.services.filter((s) => s.becomes.kind === 'container');
  for (const s of custom.filter((x) => (x.becomes as { build?: unknown }).build)) {
    const ctx = (s.becomes as { build: { context: string } }).build.context;
    result.blockers.push({
      pointer: `/services/${s.service}/build`,
      reason: `is built from ${ctx}, which is not here: create the app from the other services, then deploy that folder with gearshift deploy (its Dockerfile is used)`,
    });
  }
  // A service whose image is not a reference is already a blocker of its own.
  const images = custom.filter((x) => !(x.becomes as { build?: unknown }).build && (x.becomes as { image?: string }).image);
  if (images.length > 1) {
    result.blockers.push({
      pointer: '/services',
      reason: `${images.map((s) => s.service).join(', ')} are all custom containers; an app runs one (its web gear), the others must be catalogue services`,
    });
  }
  if (result.blockers.length === 0) {
    const entries: CartridgeEntry[] = [];
    const web = images[0];
    if (web) {
      const port = web.ports[0]?.target;
      const entry: CartridgeEntry = {
        name: 'docker-image',
        image: (web.becomes as { image: string }).image,
        ...(port ? { port } : {}),
        ...(Object.keys(web.env).length ? { env: web.env } : {}),
        ...(web.volumes.length
          ? {
              volumes: web.volumes.map((v) => ({
                name:
                  v.name
                    .toLowerCase()
                    .replace(/[^a-z0-9-]/g, '-')
                    .replace(/^[^a-z]+/, '') || 'data',
                path: v.path,
              })),
            }
          : {}),
        ...(web.command ? { command: web.command } : {}),
      };
      entries.push(entry);
      if (!port) web.notes.push('exposes no port: Gearshift expects it on 8080');
    }
    for (const s of result.services) {
      if (s.becomes.kind !== 'cartridge') continue;
      if (web && s.becomes.cartridge === 'static') {
        s.notes.push(`dropped: ${web.service} is the web gear, and the router does the proxying`);
        continue;
      }
      if (!entries.some((e) => entryName(e) === (s.becomes as { cartridge: string }).cartridge)) entries.push(s.becomes.cartridge);
    }
    if (!entries.some((e) => entryName(e) === 'static' || entryName(e) === 'docker-image'))
      result.blockers.push({ pointer: '/services', reason: 'no service becomes a web cartridge (an app needs one)' });
    else result.cartridges = entries;
  }
  return result;
}
