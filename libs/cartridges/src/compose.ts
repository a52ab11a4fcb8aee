/**
 * Importing a docker-compose.yml / compose.yaml into Gearshift's model. Pure: text in, a plan out. Services whose
 * images match a catalogue cartridge become managed cartridges wired by publish/subscribe; the rest become custom
 * containers. Every key that is not honoured is listed with the reason; what stops the app from running here is
 * listed as a blocker. Nothing is ignored in silence, and no input makes it throw.
 */

import { entryName, type CartridgeEntry } from './cartridge-options';
import { imageReferenceProblem, parseImageReference } from './image-reference';
import { healthPathPattern } from './manifest.schema';
import { relativePathMessage, SERVICE_NAME, serviceViolations, startOrder, type ServiceDescriptor } from './services';
import { MAX_YAML_DEPTH, readYaml, yamlLimitViolation } from './yaml-limits';
import { valueProblem } from './value-problems';

export interface ComposeIssue {
  pointer: string;
  reason: string;
  /** The rule broken, when one of Gearshift's own names it (else the broker says `compose`). */
  rule?: string;
}

export interface ServicePlan {
  service: string;
  becomes: { kind: 'cartridge'; cartridge: string } | { kind: 'container'; image?: string; build?: { context: string; dockerfile?: string; target?: string } };
  ports: { published?: number; target: number }[];
  env: Record<string, string>;
  /** Named volumes, and anonymous ones (no name): each gear's own, made from its image's content at that path. */
  volumes: { name?: string; path: string }[];
  dependsOn: { service: string; condition: string }[];
  healthcheck?: string[];
  secrets: string[];
  command?: string[];
  /** `entrypoint:`, as a list: replaces the image's ENTRYPOINT, and `command` becomes its arguments; empty: none. */
  entrypoint?: string[];
  /** `working_dir:`, the directory its process starts in. */
  workingDir?: string;
  /** `deploy.replicas`, when the file gives it and it is within Gearshift's limit. */
  replicas?: number;
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
  /**
   * The app as Gearshift runs it, when nothing blocks it: its catalogue cartridges, with a docker-image web gear
   * when its only own container is one image; else empty when every service is the app's own.
   */
  cartridges: CartridgeEntry[] | null;
  /**
   * The app's own services as gearshift.yml names them, when it has several containers or builds any, in the order
   * they start (after what they depend on); null when nothing blocks the app and it has none, or something blocks it.
   */
  appServices: Record<string, ServiceDescriptor> | null;
  /** The number of web gears the file asks for (`deploy.replicas` of the web gear's service), when it asks. */
  scale?: number;
  /** Where the file asks for `scale`: a refusal of it names this field of the compose file. */
  scaleFrom?: string;
}

/**
 * Images that become catalogue cartridges, by repository name (registry and tag stripped): the family, and the
 * major versions the catalogue has of it, oldest first. An image's tag picks the oldest of them that is at least its
 * version (data and code made for it run there); a newer tag, or none (`latest`, `alpine`), the current one.
 */
export const COMPOSE_IMAGE_FAMILIES: Record<string, { family: string; versions: string[]; current: string }> = {
  postgres: { family: 'postgresql', versions: ['15', '17'], current: '17' },
  postgresql: { family: 'postgresql', versions: ['15', '17'], current: '17' },
  mariadb: { family: 'mariadb', versions: ['10.11', '11.8'], current: '11.8' },
  // MySQL's data and dumps go to MariaDB, whose current version reads them best.
  mysql: { family: 'mariadb', versions: ['11.8'], current: '11.8' },
  // Redis 8 and later, and an untagged Redis, become Valkey: the catalogue's current drop-in for Redis clients.
  redis: { family: 'redis', versions: ['7'], current: 'valkey-8' },
  valkey: { family: 'valkey', versions: ['8'], current: '8' },
  node: { family: 'nodejs', versions: ['18', '22', '24'], current: '24' },
  python: { family: 'python', versions: ['3.11', '3.13'], current: '3.13' },
  php: { family: 'php', versions: ['8.2', '8.4'], current: '8.4' },
  ruby: { family: 'ruby', versions: ['3.1', '3.3'], current: '3.3' },
  openjdk: { family: 'openjdk', versions: ['17', '21'], current: '21' },
  'eclipse-temurin': { family: 'openjdk', versions: ['17', '21'], current: '21' },
};

/** Images that become the static cartridge (the router does their proxying). */
const STATIC_IMAGES = new Set(['nginx']);

/** Runtime families: their image becomes the app's web cartridge, which builds the app's code. */
const RUNTIME_FAMILIES = new Set(['nodejs', 'python', 'php', 'ruby', 'openjdk']);

const compareVersions = (a: string, b: string) => a.localeCompare(b, undefined, { numeric: true });

/** The version a tag names (`16-alpine` → 16, `3.13-slim` → 3.13, `8.4-apache` → 8.4), or null for none. */
function tagVersion(tag: string | undefined): string | null {
  const m = tag ? /^v?([0-9]+(?:\.[0-9]+)*)/.exec(tag) : null;
  return m ? m[1] : null;
}

/** The catalogue cartridge an image becomes, or undefined when it is none (it stays a custom container). */
export function cartridgeForImage(image: string): string | undefined {
  const ref = parseImageReference(image);
  const repo = ref.path.split('/').pop()!;
  if (STATIC_IMAGES.has(repo)) return 'static';
  const f = COMPOSE_IMAGE_FAMILIES[repo];
  if (!f) return undefined;
  const name = (v: string) => (v.includes('-') ? v : `${f.family}-${v}`);
  const wanted = tagVersion(ref.tag);
  if (!wanted) return name(f.current);
  // `3.13.5` asks for 3.13 or later, `16` for 16 or later: compare on as many parts as the catalogue's version has.
  const fits = f.versions.find((v) => {
    const parts = wanted.split('.').slice(0, v.split('.').length).join('.');
    return compareVersions(v, parts) >= 0;
  });
  return name(fits ?? f.current);
}

/**
 * What is said when an image's tag asks for a version the catalogue does not have (`postgres:16` runs on
 * postgresql-17), or undefined when the cartridge is the version asked for or the tag names none.
 */
export function versionChangeNote(image: string, cartridge: string): string | undefined {
  const ref = parseImageReference(image);
  const f = COMPOSE_IMAGE_FAMILIES[ref.path.split('/').pop()!];
  const wanted = tagVersion(ref.tag);
  if (!f || !wanted) return undefined;
  const chosen = cartridge.startsWith(`${f.family}-`) ? cartridge.slice(f.family.length + 1) : undefined;
  // `11` is any 11.x, so mariadb-11.8 runs it; `3.12` is not 3.13: compare on the parts both name.
  const parts = (v: string) =>
    v
      .split('.')
      .slice(0, Math.min(wanted.split('.').length, chosen!.split('.').length))
      .join('.');
  if (chosen && compareVersions(parts(chosen), parts(wanted)) === 0) return undefined;
  const newest = !f.versions.some((v) => compareVersions(v, wanted) >= 0);
  return (
    `${image} asks for version ${wanted}, which the catalogue does not have: it runs ${cartridge}, ${newest ? "the catalogue's current version" : 'the nearest newer one'}` +
    (f.family === 'postgresql' ? ` (a data directory made by PostgreSQL ${wanted} does not open in it: move data with a dump and restore)` : '')
  );
}

/** Whether a cartridge the importer chose is a language runtime (the app's web cartridge, built from its code). */
const isRuntime = (cartridge: string) => [...RUNTIME_FAMILIES].some((f) => cartridge.startsWith(`${f}-`));

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
  'entrypoint',
  'working_dir',
  'restart',
  // Its replicas become the service's scale; every other part of it is listed as ignored.
  'deploy',
]);
/** What Gearshift does instead of each service key it does not honour: said, in a push and a plan, as "ignored". */
const SERVICE_KEYS_REASONS: Record<string, string> = {
  container_name: 'Gearshift names containers itself (by app, domain, cartridge and gear)',
  hostname: 'gears are reached by their cartridge name on the app network',
  networks: 'each app has one private network of its own; declared networks are not used',
  network_mode: "gears always run on their app's own network, never the node's",
  pid: "gears always have process namespaces of their own, never the node's",
  ipc: 'gears always have IPC namespaces of their own',
  cap_add: 'gears run with every kernel capability dropped; none is added',
  cap_drop: 'gears run with every kernel capability dropped already',
  privileged: 'gears never run privileged',
  devices: "gears are given none of the node's devices",
  security_opt: 'gears run with no new privileges and the default seccomp profile',
  sysctls: 'kernel settings of gears are not configurable',
  ulimits: "the gear size sets a gear's limits",
  mem_limit: "the gear size sets a gear's memory",
  cpus: "the gear size sets a gear's CPU share",
  runtime: 'gears use the Docker Engine default runtime',
  platform: 'nodes build and run their own architecture',
  user: 'gears run as the user their image or cartridge names; no other user is taken',
  stop_signal: 'gears are stopped with SIGTERM and a grace period',
  stdin_open: 'gears have no standard input',
  tty: 'gears have no terminal',
  labels: 'Gearshift labels its containers itself',
  volumes_from: "gears share no volumes with each other's containers; name a volume in each",
  extra_hosts: 'gears resolve names through their app network',
  dns: 'gears resolve names through their app network',
};

/** The most gears a service of an app runs (a service's `scale` in gearshift.yml). */
export const MAX_SERVICE_REPLICAS = 100;

/** `deploy:` keys other than replicas, and what takes their place. */
const DEPLOY_KEYS_REASONS: Record<string, string> = {
  resources: "the gear size sets a gear's memory and CPU",
  restart_policy: 'Gearshift restarts every gear that exits',
  placement: 'the scheduler places gears on nodes',
  mode: 'every service is replicated, by its scale',
  update_config: 'a deployment replaces gears once the new ones are healthy',
  rollback_config: 'a failed deployment leaves the running release in place',
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

/**
 * A command line written as one string, split into words as docker compose splits it (no shell runs it): on blanks,
 * with single and double quotes and backslashes keeping blanks inside a word. Null when a quote is left open.
 */
export function splitWords(text: string): string[] | null {
  const out: string[] = [];
  let word: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && (text[i + 1] === '"' || text[i + 1] === '\\')) word += text[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (ch === '\\' && i + 1 < text.length) word = (word ?? '') + text[++i];
    else if (/\s/.test(ch)) {
      if (word !== null) out.push(word);
      word = null;
    } else word = (word ?? '') + ch;
  }
  if (quote) return null;
  if (word !== null) out.push(word);
  return out;
}

/**
 * A service's `entrypoint:` and `working_dir:` as docker compose runs them: the entrypoint, a string split into words
 * or a list of strings, replaces the image's ENTRYPOINT (an empty one runs the image with none) and `command` becomes
 * its arguments; the working directory is an absolute path in the container. A value that is neither blocks the
 * import, naming the field and the rule.
 */
function readEntrypoint(raw: Record<string, unknown>, plan: ServicePlan, at: string, result: ComposeImport): void {
  const e = raw.entrypoint;
  if (e !== undefined && e !== null) {
    const words = typeof e === 'string' ? splitWords(e) : Array.isArray(e) && e.every((w) => typeof w === 'string') ? (e as string[]) : null;
    if (!words)
      result.blockers.push({
        pointer: `${at}/entrypoint`,
        rule: 'entrypoint',
        reason:
          typeof e === 'string'
            ? 'has a quote left open: an entrypoint is a command line split into words as a shell would, or a list of strings'
            : 'must be a command line (a string) or a list of strings',
      });
    else if (words.length > 100 || words.some((w) => w.length > 4096))
      result.blockers.push({ pointer: `${at}/entrypoint`, rule: 'entrypoint', reason: 'has more than 100 words, or a word longer than 4096 characters' });
    else plan.entrypoint = words;
  }
  const w = raw.working_dir;
  if (w !== undefined && w !== null) {
    if (typeof w !== 'string' || !w.startsWith('/') || w.length > 255)
      result.blockers.push({
        pointer: `${at}/working_dir`,
        rule: 'working-dir',
        reason: `must be an absolute path in the container (such as /app), of at most 255 characters, not ${JSON.stringify(w).slice(0, 80)}`,
      });
    else plan.workingDir = w;
  }
}

export interface ImportOptions {
  /** Values for interpolation (the .env file next to the compose file). */
  env?: Record<string, string>;
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

/**
 * A service's `deploy:`: its replicas become the service's scale, as `PUT .../scale` would set it, and a count beyond
 * what Gearshift runs is refused with the rule, as that call refuses it; the rest is listed as ignored.
 */
function readDeploy(deploy: unknown, plan: ServicePlan, at: string, result: ComposeImport): void {
  if (deploy === undefined) return;
  if (!isObject(deploy)) {
    result.unsupported.push({ pointer: at, reason: 'is not a map; replicas and resources come from the app scale and gear size' });
    return;
  }
  for (const [key, value] of Object.entries(deploy)) {
    if (key !== 'replicas') {
      if (!key.startsWith('x-')) result.unsupported.push({ pointer: `${at}/${key}`, reason: DEPLOY_KEYS_REASONS[key] ?? 'is not a key Gearshift imports' });
      continue;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      result.blockers.push({ pointer: `${at}/replicas`, rule: 'scaling', reason: `must be a whole number of gears, not ${JSON.stringify(value)}` });
    else if (n > MAX_SERVICE_REPLICAS)
      result.blockers.push({
        pointer: `${at}/replicas`,
        rule: 'scaling',
        reason: `asks for ${n} gears; a service scales from 0 to ${MAX_SERVICE_REPLICAS} gears`,
      });
    else plan.replicas = n;
  }
}

export function importCompose(text: string, opts: ImportOptions = {}): ComposeImport {
  const result: ComposeImport = { services: [], volumes: [], secrets: [], unsupported: [], warnings: [], blockers: [], cartridges: null, appServices: null };
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
    doc = readYaml(interpolated, { merge: true });
  } catch (err) {
    result.blockers.push({ pointer: '', reason: `is not valid YAML: ${(err as Error).message.split('\n')[0]}` });
    return result;
  }
  const bad = valueProblem(doc, MAX_YAML_DEPTH);
  if (bad) {
    result.blockers.push({ pointer: bad.pointer, reason: bad.message });
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
    const cartridge = image ? cartridgeForImage(image) : undefined;
    if (cartridge && raw.build === undefined) {
      plan.becomes = { kind: 'cartridge', cartridge };
      plan.notes.push(
        cartridge === 'static'
          ? `${image} becomes the static cartridge; the router does the proxying, so an nginx proxy configuration is not used`
          : isRuntime(cartridge)
            ? `${image} becomes the ${cartridge} cartridge, the app's web gear: its code comes with gearshift deploy (or git push) and is built by the cartridge`
            : `${image} becomes the ${cartridge} cartridge; its credentials are generated and published to the app's web gears`,
      );
      const changed = versionChangeNote(image!, cartridge);
      if (changed) plan.notes.push(changed);
    } else if (raw.build !== undefined) {
      const b = isObject(raw.build) ? raw.build : { context: String(raw.build) };
      const build = {
        context: String(b.context ?? '.'),
        dockerfile: b.dockerfile ? String(b.dockerfile) : undefined,
        target: b.target ? String(b.target) : undefined,
      };
      // Compose reads `/etc` from the root of the machine it runs on; here a build comes from the repository alone.
      if (build.context.startsWith('/'))
        result.blockers.push({
          pointer: isObject(raw.build) ? `${base}/build/context` : `${base}/build`,
          rule: 'relative-path',
          reason: relativePathMessage(build.context, name),
        });
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
    if (plan.becomes.kind === 'cartridge' && Object.keys(plan.env).length > 0 && plan.becomes.cartridge !== 'static' && !isRuntime(plan.becomes.cartridge)) {
      plan.notes.push(`its environment (${Object.keys(plan.env).join(', ')}) gives way to the cartridge's generated credentials`);
    }
    if (raw.env_file !== undefined) plan.notes.push(`reads ${[raw.env_file].flat().join(', ')} at import: those files must be present`);
    for (const p of [raw.ports, raw.expose].flat().filter((x) => x !== undefined)) {
      const port = parsePort(p);
      if (port) plan.ports.push(port);
      else result.unsupported.push({ pointer: `${base}/ports`, reason: `cannot read the port ${JSON.stringify(p)}` });
    }
    for (const [i, v] of (Array.isArray(raw.volumes) ? raw.volumes : []).entries()) {
      // `- /code/node_modules` (one path, no colon) is an anonymous volume at that path, not a bind mount.
      const parts = String(v).split(':');
      const spec = isObject(v)
        ? v
        : parts.length === 1
          ? { type: 'volume', source: '', target: parts[0] }
          : { type: undefined, source: parts[0], target: parts[1] };
      const source = String(spec.source ?? '');
      const target = String(spec.target ?? '');
      const bind = spec.type === 'bind' || source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
      if (source === '/var/run/docker.sock' || target === '/var/run/docker.sock') {
        result.blockers.push({
          pointer: `${base}/volumes/${i}`,
          rule: 'docker-socket',
          reason: 'mounts the Docker socket, which would hand the node to the app; refused',
        });
      } else if (bind && source.startsWith('.') && raw.build !== undefined) {
        // A development habit: the source tree mounted over the code the image was built with, for live reloads.
        plan.notes.push(`drops the bind mount ${source}:${target}, used in development: the code is baked into the image when it is built`);
      } else if (bind) {
        // No gear mounts a path of its node, whoever applies the file: an administrator's would be dropped too.
        result.blockers.push({
          pointer: `${base}/volumes/${i}`,
          rule: 'host-paths',
          reason: `bind-mounts ${source} from the host; gears never mount the node's paths: keep the data in a named volume (NAME:${target})`,
        });
      } else if (source && target) {
        plan.volumes.push({ name: source, path: target });
      } else if (target || source) {
        // Docker gives each container its own anonymous volume, filled from the image: a new release's files show.
        plan.volumes.push({ path: target || source });
        plan.notes.push(
          `the anonymous volume ${target || source} is each gear's own, as in Docker: made from its image's content there and removed with the gear, so each release starts with its own files (name the volume, NAME:${target || source}, to keep data across releases)`,
        );
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
    // Every gear is restarted when it exits: a policy that says otherwise is not kept, and that is worth knowing.
    if (raw.restart !== undefined && !['always', 'unless-stopped'].includes(String(raw.restart)))
      plan.notes.push(
        `restart: ${String(raw.restart)} is dropped: Gearshift restarts every gear that exits, whatever its exit code (a step to run once per deployment belongs in the release process or the deploy hook)`,
      );
    plan.secrets = (Array.isArray(raw.secrets) ? raw.secrets : []).map((s) => (isObject(s) ? String(s.source) : String(s)));
    for (const s of plan.secrets) {
      if (!result.secrets.some((x) => x.name === s) && !(isObject(doc.secrets) && s in doc.secrets)) {
        result.blockers.push({ pointer: `${base}/secrets`, reason: `uses the secret ${s}, which the file does not define` });
      }
    }
    // As docker compose reads it: a string is split into words (quotes keep blanks inside one), not run by a shell.
    if (raw.command !== undefined)
      plan.command = Array.isArray(raw.command)
        ? raw.command.map(String)
        : (splitWords(String(raw.command)) ?? String(raw.command).split(/\s+/).filter(Boolean));
    readEntrypoint(raw, plan, base, result);
    readDeploy(raw.deploy, plan, `${base}/deploy`, result);
    result.services.push(plan);
  }

  // What runs here: catalogue cartridges, and the app's own containers. One container from an image alone becomes the
  // app's web gear (docker-image); several, or any built from a folder, become the app's services. An nginx in front
  // of them is dropped: the router does the proxying.
  const custom = result.services.filter((s) => s.becomes.kind === 'container');
  const built = (s: ServicePlan) => Boolean((s.becomes as { build?: unknown }).build);
  // A service whose image is not a reference is already a blocker of its own.
  const runnable = custom.filter((x) => built(x) || (x.becomes as { image?: string }).image);
  // The docker-image web gear runs its image's own ENTRYPOINT in its image's WORKDIR: one that replaces either is
  // a service, which runs them as the file says.
  const asServices = runnable.length > 1 || runnable.some((s) => built(s) || s.entrypoint !== undefined || s.workingDir !== undefined);
  // A runtime image (node:24, python:3.13) is the app's web cartridge, built from the repository's code: an app has
  // one, and not beside containers of its own, one of which is its web gear or web service.
  const runtimes = result.services.filter((x) => x.becomes.kind === 'cartridge' && isRuntime(x.becomes.cartridge));
  if (runtimes.length + Math.min(runnable.length, 1) > 1) {
    result.blockers.push({
      pointer: '/services',
      rule: 'one-web-gear',
      reason: `${[...runnable.slice(0, 1), ...runtimes].map((s) => s.service).join(', ')} would each be the app's web gear; an app has one, the others must be catalogue services or services built from a folder`,
    });
  }
  // The rest is worked out whatever blocks the file already, so that every problem of it is said at once.
  {
    const entries: CartridgeEntry[] = [];
    const web = asServices ? undefined : runnable[0];
    if (web) {
      const port = web.ports[0]?.target;
      const entry: CartridgeEntry = {
        name: 'docker-image',
        image: (web.becomes as { image: string }).image,
        ...(port ? { port } : {}),
        ...(Object.keys(web.env).length ? { env: web.env } : {}),
        ...(web.volumes.length ? { volumes: web.volumes.map(importedVolume) } : {}),
        ...(web.command ? { command: web.command } : {}),
      };
      entries.push(entry);
      if (!port) web.notes.push('exposes no port: Gearshift expects it on 8080');
    }
    const services = asServices ? ownServices(runnable, result) : null;
    const front = services && Object.entries(services).find(([, s]) => s.kind === 'web');
    // The file's services that run as an entry of the app, with the cartridge each became.
    const kept: [ServicePlan, string][] = web ? [[web, 'docker-image']] : [];
    for (const s of result.services) {
      if (s.becomes.kind !== 'cartridge') continue;
      const holder = web?.service ?? front?.[0] ?? runtimes[0]?.service;
      if (holder && s.becomes.cartridge === 'static') {
        s.notes.push(`dropped: ${holder} is the web ${front && !web ? 'service' : 'gear'}, and the router does the proxying`);
        continue;
      }
      if (s.replicas !== undefined && !isRuntime(s.becomes.cartridge))
        result.unsupported.push({
          pointer: `/services/${s.service}/deploy/replicas`,
          reason: `the ${s.becomes.cartridge} cartridge runs the gears its manifest says, not a count of the file's`,
        });
      kept.push([s, s.becomes.cartridge]);
      if (!entries.some((e) => entryName(e) === (s.becomes as { cartridge: string }).cartridge)) entries.push(s.becomes.cartridge);
    }
    nameOnNetwork(kept, entries, Object.keys(services ?? {}));
    if (services) {
      // Compose names what each service waits for by service; here a catalogue service is waited for by its cartridge.
      const renamed = new Map(result.services.map((s) => [s.service, s.becomes.kind === 'cartridge' ? s.becomes.cartridge : serviceName(s.service)]));
      for (const svc of Object.values(services)) {
        const deps = [
          ...new Set((svc.dependsOn ?? []).map((d) => renamed.get(d) ?? d).filter((d) => d in services || entries.some((e) => entryName(e) === d))),
        ];
        if (deps.length) svc.dependsOn = deps;
        else delete svc.dependsOn;
      }
      for (const v of serviceViolations(services, entries.map(entryName))) result.blockers.push({ pointer: v.pointer, reason: v.message });
    }
    // A service that could not be read (a bad image, no image nor build) may be the one meant to serve: its own
    // blocker says what to fix, and "no web service" would not be true.
    const unread = custom.length > runnable.length;
    if (!front && !unread && !entries.some((e) => entryName(e) === 'static' || entryName(e) === 'docker-image' || isRuntime(entryName(e))))
      result.blockers.push({ pointer: '/services', rule: 'web-service', reason: 'no service becomes a web cartridge or a web service (an app needs one)' });
    else if (result.blockers.length === 0 && !unread) {
      result.cartridges = entries;
      // The web gears' count, as the app's scale: the broker holds it to the web cartridge's limits.
      const scaled = web ?? (services ? undefined : runtimes[0]);
      if (scaled?.replicas !== undefined) {
        result.scale = scaled.replicas;
        result.scaleFrom = `/services/${scaled.service}/deploy/replicas`;
      }
      if (services) result.appServices = Object.fromEntries(startOrder(services).map((n) => [n, services[n]]));
    }
  }
  return result;
}

/**
 * What a push and a plan say of an import, one line per setting Gearshift ignores or changes, each naming the
 * service and the key (`services/web/privileged: ignored: gears never run privileged`), then the services' own notes
 * and what interpolation left empty.
 */
export function composeNotes(r: ComposeImport): string[] {
  return [
    ...r.unsupported.map((u) => `${u.pointer.slice(1)}: ignored: ${u.reason}`),
    ...r.services.flatMap((s) => s.notes.map((n) => `services/${s.service}: ${n}`)),
    ...r.warnings.map((w) => `${w.pointer} ${w.reason}`),
  ];
}

/**
 * The path a healthcheck asks for when it is an HTTP request to the container itself on its port (`curl -f
 * http://localhost:8000/health`, `wget -qO- http://127.0.0.1/ready`); undefined for any other command.
 */
export function httpHealthPath(command: string[], port: number): string | undefined {
  const text = command.join(' ');
  if (!/\b(curl|wget)\b/.test(text)) return undefined;
  const m = /https?:\/\/(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(\d+))?(\/[^\s'"|;&)]*)?/.exec(text);
  if (!m) return undefined;
  const asked = m[1] ? Number(m[1]) : 80;
  if (asked !== port) return undefined;
  const path = m[2] ?? '/';
  return new RegExp(healthPathPattern).test(path) && path.length <= 200 ? path : undefined;
}

/** A compose volume's name as Gearshift names volumes: lowercase letters, digits and dashes, starting with a letter. */
const volumeName = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^[^a-z]+/, '') || 'data';

/**
 * Compose reaches each service by its name (`DB_HOST: postgres`): a service that became a cartridge keeps that name
 * on the app's network, as an alias of the cartridge's gears beside the cartridge's own name. A name that is another
 * cartridge's or service's stays theirs, and that is said.
 */
function nameOnNetwork(kept: [ServicePlan, string][], entries: CartridgeEntry[], services: string[]): void {
  const taken = new Set([...entries.map(entryName), ...services]);
  for (const [plan, cartridge] of kept) {
    // DNS names are read without regard to case; a name on the app's network is a DNS label, as a service's is.
    const alias = plan.service.toLowerCase();
    if (alias === cartridge) continue;
    if (!new RegExp(SERVICE_NAME).test(alias) || taken.has(alias)) {
      plan.notes.push(
        `is reached as ${cartridge} on the app's network, not as ${plan.service}: ${taken.has(alias) ? 'that name is taken' : 'that name is not a DNS label'}`,
      );
      continue;
    }
    taken.add(alias);
    const i = entries.findIndex((e) => entryName(e) === cartridge);
    const entry = entries[i];
    const options = typeof entry === 'string' ? { name: entry } : entry;
    entries[i] = { ...options, aliases: [...(options.aliases ?? []), alias] };
    plan.notes.push(`is reached as ${alias} on the app's network, as in the file (and as ${cartridge})`);
  }
}

/** A compose volume as Gearshift's: a named one by its name, an anonymous one by its path alone. */
const importedVolume = (v: { name?: string; path: string }) => (v.name ? { name: volumeName(v.name), path: v.path } : { path: v.path });

/** A compose service's name as a service's (a DNS label): lowercase, underscores as dashes. */
const serviceName = (name: string) => name.toLowerCase().replace(/_/g, '-');

/** Ports that say "this one serves the browser", in the order they win the app's host name. */
const FRONT_PORTS = [80, 443, 8080, 3000];

/**
 * The app's own containers as services. A container that publishes a port is what people open: the one on the most
 * usual front port (else the first) is the web service at the app's host name; the others that listen on a port are
 * internal (reached by name on the app's network, a published port is not routed) and the rest are workers.
 */
function ownServices(plans: ServicePlan[], result: ComposeImport): Record<string, ServiceDescriptor> {
  const published = plans.filter((p) => p.ports.some((x) => x.published !== undefined));
  const rank = (p: ServicePlan) => {
    const i = FRONT_PORTS.findIndex((f) => p.ports.some((x) => x.published === f || x.target === f));
    return i < 0 ? FRONT_PORTS.length : i;
  };
  const front = [...published].sort((a, b) => rank(a) - rank(b))[0] ?? plans.find((p) => p.ports.length > 0);
  const out: Record<string, ServiceDescriptor> = {};
  for (const p of plans) {
    const name = serviceName(p.service);
    if (!new RegExp(SERVICE_NAME).test(name)) {
      result.blockers.push({ pointer: `/services/${p.service}`, reason: `cannot name a service: names are DNS labels (${SERVICE_NAME})` });
      continue;
    }
    const b = p.becomes as { image?: string; build?: { context: string; dockerfile?: string; target?: string } };
    const port = p.ports[0]?.target;
    const kind = p === front ? 'web' : port ? 'internal' : 'worker';
    if (kind === 'internal' && p.ports.some((x) => x.published !== undefined))
      p.notes.push(`runs as an internal service: reached as ${name}:${port} on the app's network; only ${front!.service} is routed`);
    const waiter = plans.find((o) => o.dependsOn.some((d) => d.service === p.service && d.condition === 'service_completed_successfully'));
    if (waiter)
      p.notes.push(
        `${waiter.service} waits for it to finish, as a one-off step; here it runs as a ${kind} service, started again when it exits: a step to run once per deployment belongs in the release process (Procfile release:) or the deploy hook`,
      );
    const health = p.healthcheck && kind !== 'worker' && port ? httpHealthPath(p.healthcheck, port) : undefined;
    if (p.healthcheck)
      p.notes.push(
        health
          ? `its healthcheck becomes the service's health check: GET ${health} on port ${port} answers below 400`
          : kind === 'worker'
            ? 'its healthcheck is dropped: a worker is healthy once it keeps running'
            : `its healthcheck (${p.healthcheck.join(' ')}) is dropped: only an HTTP request to localhost (curl or wget) becomes a health check; its port is checked to take connections`,
      );
    const context = b.build && (b.build.context.startsWith('.') ? b.build.context : `./${b.build.context}`);
    const svc: ServiceDescriptor = {
      kind,
      ...(b.build
        ? {
            build:
              b.build.dockerfile || b.build.target
                ? {
                    context: context!,
                    ...(b.build.dockerfile ? { dockerfile: b.build.dockerfile } : {}),
                    ...(b.build.target ? { target: b.build.target } : {}),
                  }
                : context!,
          }
        : { image: b.image! }),
      ...(p.command ? { command: p.command } : {}),
      ...(p.entrypoint ? { entrypoint: p.entrypoint } : {}),
      ...(p.workingDir ? { workingDir: p.workingDir } : {}),
      ...(p.replicas !== undefined ? { scale: p.replicas } : {}),
      ...(Object.keys(p.env).length ? { env: p.env } : {}),
      ...(kind !== 'worker' && port ? { port } : {}),
      ...(health ? { health: { path: health } } : {}),
      ...(p.dependsOn.length ? { dependsOn: p.dependsOn.map((d) => d.service) } : {}),
      ...(p.volumes.length ? { volumes: p.volumes.map(importedVolume) } : {}),
    };
    out[name] = svc;
  }
  return out;
}

/**
 * Whether a document (YAML or JSON text) is a compose file rather than a gearshift.yml: a services map and no
 * cartridges, which every gearshift.yml names. Unreadable text is not a compose file (the descriptor's reader says
 * what is wrong with it).
 */
export function isComposeText(text: string): boolean {
  // A document over the limits is read by the descriptor's reader, which refuses it saying which limit.
  if (yamlLimitViolation(text)) return false;
  try {
    const doc: unknown = readYaml(text, { merge: true });
    return isObject(doc) && isObject(doc.services) && !('cartridges' in doc);
  } catch {
    return false;
  }
}

/**
 * Whether a document too large or too broken to read still looks like a compose file: a top-level `services:` and no
 * `cartridges:`. Only to name the file in what is said about it; isComposeText decides how a document is read.
 */
export function looksLikeCompose(text: string): boolean {
  return /^services[ \t]*:/m.test(text) && !/^cartridges[ \t]*:/m.test(text);
}

/**
 * The name a document applied to a domain is spoken of by: the file's own name when the sender gives it (a push
 * names the file it read), else what the document is.
 */
export function appliedFileName(text: string, file?: string): string {
  if (file) return file;
  return isComposeText(text) || looksLikeCompose(text) ? 'the compose file' : 'gearshift.yml';
}

/** The name a compose file gives its project (`name:`), when it has one. */
export function composeProjectName(text: string): string | undefined {
  if (yamlLimitViolation(text)) return undefined;
  try {
    const doc: unknown = readYaml(text, { merge: true });
    return isObject(doc) && typeof doc.name === 'string' ? doc.name : undefined;
  } catch {
    return undefined;
  }
}

/** An import that nothing blocks as the gearshift.yml of the app `name`: its cartridges and its services. */
export function composeDescriptor(
  name: string,
  r: ComposeImport,
): { name: string; cartridges: CartridgeEntry[]; scale?: number; services?: ComposeImport['appServices'] } | null {
  if (!r.cartridges) return null;
  return { name, cartridges: r.cartridges, ...(r.scale !== undefined ? { scale: r.scale } : {}), ...(r.appServices ? { services: r.appServices } : {}) };
}
