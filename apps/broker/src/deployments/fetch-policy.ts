import { isIP } from 'node:net';

/**
 * Where the broker may fetch a tenant's source from. A git URL is the tenant's word, but the connection is the
 * platform's: from the broker's host it could reach the platform's own Redis, Postgres, registry and API, a cloud's
 * metadata service, or anything else on a private network. So every address a source host resolves to must be a
 * public one, unless the operator listed it in GEARSHIFT_FETCH_ALLOW.
 */

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface Ip {
  family: 4 | 6;
  value: bigint;
}

/** A range of addresses (and, for an allow-list entry, maybe one port). */
export interface AddressRange {
  family: 4 | 6;
  base: bigint;
  bits: number;
  port?: number;
}

const WIDTH = { 4: 32, 6: 128 } as const;

export function parseIp(text: string): Ip | null {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const family = isIP(bare);
  if (family === 4) return { family: 4, value: v4Value(bare) };
  if (family !== 6) return null;
  // A zone (fe80::1%eth0) names an interface, not another address.
  let rest = bare.replace(/%.*$/, '').toLowerCase();
  // A trailing dotted quad (::ffff:127.0.0.1) is the last 32 bits.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(rest);
  if (quad) {
    const v = v4Value(quad[1]);
    rest = `${rest.slice(0, -quad[1].length)}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = rest.includes('::') ? rest.split('::') : [rest, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
}

function v4Value(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function range(cidr: string): AddressRange {
  const [addr, bits] = cidr.split('/');
  const ip = parseIp(addr)!;
  return { family: ip.family, base: ip.value, bits: Number(bits) };
}

export function inRange(ip: Ip, r: AddressRange): boolean {
  if (ip.family !== r.family) return false;
  const shift = BigInt(WIDTH[r.family] - r.bits);
  return ip.value >> shift === r.base >> shift;
}

/** Addresses that are not the public internet, each with the reason a fetch from it is refused. */
const NOT_PUBLIC: [string, string][] = [
  ['0.0.0.0/8', 'this network'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared (carrier-grade NAT)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'protocol assignments'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved and broadcast'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'local translation'],
  ['100::/64', 'discard'],
  ['fc00::/7', 'unique local (private)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];
const NOT_PUBLIC_RANGES = NOT_PUBLIC.map(([cidr, why]) => ({ range: range(cidr), why }));

/** IPv6 forms that carry an IPv4 address, which is what the connection reaches. */
const EMBEDDING: { range: AddressRange; at: bigint }[] = [
  { range: range('::ffff:0:0/96'), at: 0n }, // IPv4-mapped
  { range: range('::ffff:0:0:0/96'), at: 0n }, // IPv4-translated (SIIT)
  { range: range('64:ff9b::/96'), at: 0n }, // NAT64
  { range: range('::/96'), at: 0n }, // IPv4-compatible (deprecated)
  { range: range('2002::/16'), at: 80n }, // 6to4
];

/** The IPv4 address an IPv6 one stands for, if it embeds one. */
export function embeddedV4(ip: Ip): Ip | null {
  if (ip.family !== 6) return null;
  // :: and ::1 are IPv6's own, not IPv4-compatible forms of 0.0.0.0 and 0.0.0.1.
  if (ip.value <= 1n) return null;
  const e = EMBEDDING.find((x) => inRange(ip, x.range));
  return e ? { family: 4, value: (ip.value >> e.at) & 0xffffffffn } : null;
}

/** Why an address is not on the public internet, or null when it is. */
export function notPublic(ip: Ip): string | null {
  const v4 = embeddedV4(ip);
  if (v4) {
    const why = notPublic(v4);
    return why ? `${why} (as IPv6)` : null;
  }
  return NOT_PUBLIC_RANGES.find((r) => inRange(ip, r.range))?.why ?? null;
}

/**
 * The operator's list of addresses fetches may reach although they are not public: comma-separated addresses or
 * CIDR ranges, each with an optional port (`127.0.0.1:9418`, `10.0.0.0/8`, `[fd00::/8]:443`, `::1`).
 */
export function parseAllowList(raw: string): AddressRange[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m =
        /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry) ??
        /^([0-9.]+(?:\/\d{1,2})?)(?::(\d{1,5}))?$/.exec(entry) ??
        /^([0-9a-fA-F:]+(?:\/\d{1,3})?)()$/.exec(entry);
      const [addr, bits] = (m?.[1] ?? '').split('/');
      const ip = parseIp(addr);
      const port = m?.[2] ? Number(m[2]) : undefined;
      if (!ip || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= WIDTH[ip.family])) || (port !== undefined && !(port >= 1 && port <= 65535))) {
        throw new Error(`"${entry}" is not an address or CIDR range with an optional port (such as 127.0.0.1:9418, 10.0.0.0/8 or [fd00::/8]:443)`);
      }
      const width = bits === undefined ? WIDTH[ip.family] : Number(bits);
      return { family: ip.family, base: ip.value, bits: width, ...(port !== undefined ? { port } : {}) };
    });
}

/** Whether an entry of the allow list admits a connection to this address and port. */
export function allowedBy(list: AddressRange[], ip: Ip, port: number): boolean {
  const forms = [ip, embeddedV4(ip)].filter((x): x is Ip => x !== null);
  return list.some((r) => (r.port === undefined || r.port === port) && forms.some((f) => inRange(f, r)));
}

/** One address and port of the platform itself (its API, router, Redis, Postgres, registry). */
export interface Endpoint {
  host: string;
  port: number;
}

/** What a fetch may reach: public addresses and the allow list, never an address of this host or a platform service. */
export interface FetchRules {
  allow: AddressRange[];
  /** Addresses of this host's own interfaces. */
  local: Ip[];
  /** Addresses and ports the platform's own services listen on. */
  services: { ip: Ip; port: number }[];
}

/** Why a connection to address:port is refused, or null when it may be made. */
export function refusal(rules: FetchRules, ip: Ip, port: number): string | null {
  if (allowedBy(rules.allow, ip, port)) return null;
  const v4 = embeddedV4(ip);
  const same = (a: Ip) => (b: Ip) => a.family === b.family && a.value === b.value;
  const forms = [ip, ...(v4 ? [v4] : [])];
  const why = notPublic(ip);
  if (why) return why;
  if (forms.some((f) => rules.local.some(same(f)))) return "this host's own address";
  if (forms.some((f) => rules.services.some((s) => s.port === port && same(f)(s.ip)))) return "a platform service's port";
  return null;
}
