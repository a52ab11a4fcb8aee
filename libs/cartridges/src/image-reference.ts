import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';

/**
 * Image references as Docker reads them (the distribution reference grammar):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path            (at most 255 characters)
 *   domain     := host [ ":" port ]               host: DNS labels joined by ".", or an IPv6 address in brackets
 *   path       := component ( "/" component )*   component: [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex              sha256 (64), sha384 (96) or sha512 (128) lowercase hex digits
 *
 * The first part of a name is its registry only when it looks like one (it has a "." or a ":", or is "localhost");
 * otherwise it is the first path component and the image comes from Docker Hub. Anything else (a URL scheme such as
 * file://, upper case in the path, spaces, an empty component) is not a reference, and is refused before it reaches
 * a node: the Docker daemon answers such strings in ways that are hard to report (redirects, DNS errors).
 */

export interface ImageReference {
  /** The registry host (and port) the image comes from: docker.io when the reference names none. */
  domain: string;
  /** The repository path inside the registry, with Docker Hub's "library/" for official images. */
  path: string;
  tag?: string;
  digest?: string;
  /** The fully qualified form: domain/path[:tag][@digest], with ":latest" when neither tag nor digest was given. */
  canonical: string;
}

export class ImageReferenceError extends Error {
  override name = 'ImageReferenceError';
}

const NAME_MAX = 255;
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const DOMAIN_LABEL = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const PORT = /^[0-9]{1,5}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const HEX = /^[a-f0-9]+$/;
const DEFAULT_DOMAIN = 'docker.io';

function checkDomain(domain: string): void {
  let host = domain;
  const portAt = domain.startsWith('[') ? domain.indexOf(']:') + 1 : domain.lastIndexOf(':');
  if (portAt > 0) {
    const port = domain.slice(portAt + 1);
    if (!PORT.test(port) || Number(port) > 65535) throw new ImageReferenceError(`the registry port "${port}" is not a port number`);
    host = domain.slice(0, portAt);
  }
  if (IPV6.test(host)) return;
  if (host === '' || !host.split('.').every((label) => DOMAIN_LABEL.test(label))) {
    throw new ImageReferenceError(`"${host}" is not a registry host name`);
  }
}

/** Parses `value` as Docker would, or throws an ImageReferenceError that says what is wrong with it. */
export function parseImageReference(value: string): ImageReference {
  if (typeof value !== 'string' || value === '') throw new ImageReferenceError('an image reference cannot be empty');
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(value)) {
    throw new ImageReferenceError(`"${value.slice(0, value.indexOf(':'))}://" is a URL scheme; an image reference is [registry[:port]/]name[:tag][@digest]`);
  }
  if (/[\s\0]/.test(value)) throw new ImageReferenceError('an image reference cannot hold spaces or control characters');

  let rest = value;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    const colon = digest.indexOf(':');
    const algorithm = digest.slice(0, colon);
    const hex = digest.slice(colon + 1);
    const length = DIGEST_LENGTHS[algorithm];
    if (colon === -1 || length === undefined)
      throw new ImageReferenceError(`the digest "${digest}" must be sha256:, sha384: or sha512: followed by its hex digits`);
    if (hex.length !== length || !HEX.test(hex)) throw new ImageReferenceError(`the digest "${digest}" must have ${length} lowercase hex digits`);
  }

  // A tag follows the last ":" that comes after the last "/" (a ":" before it belongs to the registry's port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw new ImageReferenceError(`the tag "${tag}" must be letters, digits, "_", "." and "-" (at most 128, not starting with "." or "-")`);
  }

  const name = rest;
  if (name === '') throw new ImageReferenceError('an image reference needs a repository name');
  if (name.length > NAME_MAX) throw new ImageReferenceError(`the repository name is longer than ${NAME_MAX} characters`);

  let domain = DEFAULT_DOMAIN;
  let path = name;
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash !== -1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase())) {
    checkDomain(first);
    domain = first;
    path = name.slice(slash + 1);
  }
  const components = path.split('/');
  for (const component of components) {
    if (component === '') throw new ImageReferenceError(`"${name}" has an empty path component`);
    if (!COMPONENT.test(component)) {
      if (component !== component.toLowerCase() && COMPONENT.test(component.toLowerCase())) {
        throw new ImageReferenceError(`the repository name "${path}" must be lowercase`);
      }
      throw new ImageReferenceError(`"${component}" is not a repository path component (lowercase letters and digits, separated by ".", "_", "__" or "-")`);
    }
  }
  if (domain === DEFAULT_DOMAIN && slash === -1 && /^[a-f0-9]{64}$/.test(path)) {
    throw new ImageReferenceError('a 64-digit hex string is an image id, not a repository name');
  }
  if ((domain === DEFAULT_DOMAIN || domain === 'index.docker.io') && components.length === 1) path = `library/${path}`;
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN;

  const canonical = `${domain}/${path}${tag !== undefined ? `:${tag}` : digest === undefined ? ':latest' : ''}${digest !== undefined ? `@${digest}` : ''}`;
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}), canonical };
}

/** Whether Docker would read `value` as an image reference. */
export function isImageReference(value: string): boolean {
  try {
    parseImageReference(value);
    return true;
  } catch {
    return false;
  }
}

/** Why `value` is not an image reference, or undefined when it is one. */
export function imageReferenceProblem(value: string): string | undefined {
  try {
    parseImageReference(value);
    return undefined;
  } catch (err) {
    if (err instanceof ImageReferenceError) return err.message;
    throw err;
  }
}

/** `host` as a URL parser normalizes it: lower case, and IPv4 in any spelling (127.1, 0x7f.0.0.1) as dotted quads. */
function normalHost(host: string): string {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return host.toLowerCase();
  }
}

/**
 * Whether `value` names an image by its id rather than by repository: `sha256:<hex>` or a bare string of 1 to 64 hex
 * digits, which the Docker Engine takes as a (prefix of an) image id when an image on the node has one that starts so.
 */
export function isImageId(value: string): boolean {
  return /^(?:sha256:)?[a-f0-9]{1,64}$/i.test(value);
}

/** A registry's host and port, normalized: the host as a URL parser spells it, the port as a number (absent when none). */
export function splitDomain(domain: string): { host: string; port?: number } {
  const portAt = domain.startsWith('[') ? domain.indexOf(']:') + 1 : domain.lastIndexOf(':');
  return portAt > 0 ? { host: normalHost(domain.slice(0, portAt)), port: Number(domain.slice(portAt + 1)) } : { host: normalHost(domain) };
}

/**
 * The local addresses in the kernel's tables (`/proc/net/fib_trie` for IPv4, `/proc/net/if_inet6` for IPv6), as
 * written there. Node lists only interfaces that are up and running; a bridge with no container on it (docker0 on a
 * host whose gears are on networks of their own) is down, yet its address still reaches this machine.
 */
export function kernelAddresses(fibTrie: string, ifInet6: string): string[] {
  const found: string[] = [];
  const lines = fibTrie.split('\n');
  lines.forEach((line, i) => {
    const m = /^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (m && /\bhost LOCAL\b/.test(lines[i + 1] ?? '')) found.push(m[1]);
  });
  for (const line of ifInet6.split('\n')) {
    const hex = /^([0-9a-f]{32})\s/i.exec(line)?.[1];
    if (hex) found.push(`[${hex.match(/.{4}/g)!.join(':')}]`);
  }
  return found;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Every address of this machine, read now: its interfaces' as Node lists them and the kernel's local addresses
 * (interfaces that are down included), IPv6 without brackets or zone.
 */
export function machineAddresses(): string[] {
  const found = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) found.add(a.address.replace(/%.*$/, ''));
  for (const a of kernelAddresses(readOr('/proc/net/fib_trie'), readOr('/proc/net/if_inet6'))) found.add(a.replace(/^\[(.*)\]$/, '$1'));
  return [...found];
}

/** This machine's addresses, as hosts are spelled after normalHost (IPv6 in brackets). */
function ownAddresses(): Set<string> {
  return new Set(machineAddresses().map((a) => normalHost(a.includes(':') ? `[${a}]` : a)));
}

/** A host name or address that means this machine. */
function isLocal(host: string): boolean {
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d+\.\d+\.\d+$/.test(host) ||
    host === '0.0.0.0' ||
    host === '[::1]' ||
    host === '[::]' ||
    /^\[::ffff:(7f[0-9a-f]{2}:[0-9a-f]{1,4}|127\.\d+\.\d+\.\d+)\]$/.test(host) ||
    host === normalHost(hostname()) ||
    ownAddresses().has(host)
  );
}

/** Without a port Docker tries the registry's standard ones. */
const portsOf = (p?: number) => (p === undefined ? [443, 80] : [p]);
const samePort = (a?: number, b?: number) => portsOf(a).some((p) => portsOf(b).includes(p));

/**
 * Whether an image reference's registry is the platform's (`registry`, host:port as configured), in any spelling of
 * its host and port: the same name in other case, the port with leading zeros, and for a registry on this machine
 * any name or address of this machine (localhost, 127.x in any notation, ::1, its host name, its interfaces' addresses).
 */
export function namesPlatformRegistry(ref: Pick<ImageReference, 'domain'>, registry: string): boolean {
  if (!registry) return false;
  const own = splitDomain(registry);
  const their = splitDomain(ref.domain);
  if (!samePort(their.port, own.port)) return false;
  return their.host === own.host || (isLocal(own.host) && isLocal(their.host));
}

/** How long a registry's host name may take to resolve before the answer counts as "the platform's". */
export const REGISTRY_LOOKUP_MS = 2000;

/** Resolves a host name to its addresses (the system resolver's, as getaddrinfo answers). */
export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;
const systemLookup: HostLookup = (host) => lookup(host, { all: true });

async function addressesOf(host: string, timeoutMs: number, resolve: HostLookup): Promise<string[] | 'timeout'> {
  if (host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host)) return [host];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const found = await Promise.race([resolve(host).catch(() => [] as { address: string; family: number }[]), timeout]);
    if (found === 'timeout') return found;
    return found.map((a) => normalHost(a.family === 6 ? `[${a.address}]` : a.address));
  } finally {
    clearTimeout(timer);
  }
}

/**
 * namesPlatformRegistry, and besides a host name that resolves (DNS, bounded by `timeoutMs`) to loopback, to an address
 * of this machine when the registry is on it, or to the registry's own addresses. A name that does not resolve in time
 * on the registry's port counts as the platform's: refusing is the safe answer.
 */
export async function resolvesToPlatformRegistry(
  ref: Pick<ImageReference, 'domain'>,
  registry: string,
  timeoutMs = REGISTRY_LOOKUP_MS,
  resolve: HostLookup = systemLookup,
): Promise<boolean> {
  if (!registry) return false;
  if (namesPlatformRegistry(ref, registry)) return true;
  const own = splitDomain(registry);
  const their = splitDomain(ref.domain);
  if (!samePort(their.port, own.port)) return false;
  const [theirs, owns] = await Promise.all([addressesOf(their.host, timeoutMs, resolve), addressesOf(own.host, timeoutMs, resolve)]);
  if (theirs === 'timeout') return true;
  const ownLocal = isLocal(own.host) || (owns !== 'timeout' && owns.some(isLocal));
  return theirs.some((a) => (ownLocal && isLocal(a)) || (owns !== 'timeout' && owns.includes(a)));
}
