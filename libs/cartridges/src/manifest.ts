import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { YAMLParseError } from 'yaml';
import { manifestSchema, type CartridgeManifest } from './manifest.schema';
import type { ValidateFunction } from 'ajv';
import { ajv, check, SchemaViolationError, type Violation } from './validation';
import { checkYamlLimits, readYaml } from './yaml-limits';

let validateManifestSchema: ValidateFunction | undefined;

/** A cartridge as the platform knows it: its manifest and the hash of its folder (the image tag). */
export interface Cartridge {
  manifest: CartridgeManifest;
  hash: string;
  dir: string;
}

const TEMPLATE = /\{\{\s*([a-z]+)(?:\.([A-Za-z0-9_-]+))?(?:\.([a-z]+))?\s*\}\}/g;

export interface TemplateContext {
  env: Record<string, string>;
  endpoint: Record<string, { host: string; port: number }>;
  app: { name: string };
  domain: { name: string };
}

/** Fills `{{env.NAME}}`, `{{endpoint.NAME.host|port}}`, `{{app.name}}` and `{{domain.name}}` in a value. */
export function renderTemplate(template: string, ctx: TemplateContext): string {
  return template.replace(TEMPLATE, (whole, scope: string, key?: string, field?: string) => {
    if (scope === 'env' && key !== undefined && key in ctx.env) return ctx.env[key];
    if (scope === 'endpoint' && key !== undefined && ctx.endpoint[key] && (field === 'host' || field === 'port')) {
      return String(ctx.endpoint[key][field]);
    }
    if (scope === 'app' && key === 'name') return ctx.app.name;
    if (scope === 'domain' && key === 'name') return ctx.domain.name;
    throw new Error(`unknown template reference ${whole}`);
  });
}

/** Rules a JSON Schema cannot say: references between fields of the same manifest. */
function semanticViolations(m: CartridgeManifest, folderName?: string): Violation[] {
  const out: Violation[] = [];
  if (folderName !== undefined && m.name !== folderName) {
    out.push({ pointer: '/name', rule: 'folder', message: `must equal the folder name "${folderName}"` });
  }
  const envNames = new Set((m.env ?? []).map((e) => e.name));
  const endpointNames = new Set(m.endpoints.map((e) => e.name));
  const checkRefs = (value: string, pointer: string) => {
    for (const match of value.matchAll(TEMPLATE)) {
      const [whole, scope, key, field] = match;
      const ok =
        (scope === 'env' && key !== undefined && envNames.has(key) && field === undefined) ||
        (scope === 'endpoint' && key !== undefined && endpointNames.has(key) && (field === 'host' || field === 'port')) ||
        ((scope === 'app' || scope === 'domain') && key === 'name' && field === undefined);
      if (!ok) out.push({ pointer, rule: 'template', message: `refers to ${whole}, which this manifest does not define` });
    }
  };
  const seenEndpoints = new Set<string>();
  m.endpoints.forEach((e, i) => {
    if (seenEndpoints.has(e.name)) out.push({ pointer: `/endpoints/${i}/name`, rule: 'unique', message: `endpoint "${e.name}" is declared twice` });
    seenEndpoints.add(e.name);
    if (e.health?.http && e.protocol !== 'http') {
      out.push({ pointer: `/endpoints/${i}/health/http`, rule: 'protocol', message: 'an http health check needs protocol http' });
    }
  });
  (m.env ?? []).forEach((e, i) => e.value !== undefined && checkRefs(e.value, `/env/${i}/value`));
  (m.publishes ?? []).forEach((p, i) => checkRefs(p.value, `/publishes/${i}/value`));
  const isWeb = m.categories.includes('web');
  if (isWeb && !m.endpoints.some((e) => e.protocol === 'http' && e.public)) {
    out.push({ pointer: '/endpoints', rule: 'web', message: 'a web cartridge needs a public http endpoint' });
  }
  if (m.scaling && m.scaling.min > m.scaling.max) {
    out.push({ pointer: '/scaling/min', rule: 'range', message: `must not exceed scaling.max (${m.scaling.max})` });
  }
  (m.security?.tmpfs ?? []).forEach((path, i) => {
    const volume = (m.volumes ?? []).find((v) => path === v.path || path.startsWith(`${v.path}/`) || v.path.startsWith(`${path}/`));
    if (volume) out.push({ pointer: `/security/tmpfs/${i}`, rule: 'volume', message: `overlaps volume "${volume.name}" (${volume.path})` });
  });
  if (!isWeb && m.scaling && m.scaling.max > 1) {
    out.push({ pointer: '/scaling/max', rule: 'range', message: 'only web cartridges scale beyond one gear' });
  }
  return out;
}

/** Parses and validates a manifest document; `subject` names it in errors (usually the file). */
export function parseManifest(text: string, subject: string, folderName?: string): CartridgeManifest {
  let raw: unknown;
  checkYamlLimits(text, subject);
  try {
    // Loaded on first use: node agents hash cartridge folders but never parse manifests.
    raw = readYaml(text);
  } catch (err) {
    const pos = (err as YAMLParseError).linePos;
    const line = pos ? ` (line ${pos[0].line})` : '';
    throw new SchemaViolationError(subject, [{ pointer: '', rule: 'yaml', message: `is not valid YAML${line}: ${(err as Error).message}` }]);
  }
  validateManifestSchema ??= ajv().compile(manifestSchema);
  const manifest = check<CartridgeManifest>(validateManifestSchema, raw, subject);
  const violations = semanticViolations(manifest, folderName);
  if (violations.length > 0) throw new SchemaViolationError(subject, violations);
  return manifest;
}

/** A stable hash of every file in a folder (names and contents): an unchanged cartridge keeps its image tag. */
export function hashFolder(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const full = join(d, entry);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else {
        hash.update(`${relative(dir, full)}\0${st.mode & 0o111 ? 'x' : '-'}\0`);
        hash.update(readFileSync(full));
        hash.update('\0');
      }
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 16);
}

/** Reads every `<dir>/<name>/manifest.yml`; the first broken manifest throws with its file, field and rule. */
export function loadCatalog(dir: string): Map<string, Cartridge> {
  const catalog = new Map<string, Cartridge>();
  for (const name of readdirSync(dir).sort()) {
    const folder = join(dir, name);
    if (!statSync(folder).isDirectory()) continue;
    const file = join(folder, 'manifest.yml');
    const manifest = parseManifest(readFileSync(file, 'utf8'), file, name);
    catalog.set(manifest.name, { manifest, hash: hashFolder(folder), dir: folder });
  }
  return catalog;
}
