import { isIP } from 'node:net';

/** Why a host name may not be an alias, as a rule of the API's error details. */
export interface HostRefusal {
  kind: 'invalid' | 'rule';
  rule: string;
  message: string;
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Whether a host names an address rather than a DNS name, in any form a browser or resolver reads as one: dotted
 * or shortened IPv4 (`127.1`), hexadecimal or octal parts (`0x7f.0.0.1`, `0177.0.0.1`), a single number
 * (`2130706433`), IPv6 with or without brackets or a zone (`[::1]`, `::ffff:127.0.0.1`, `fe80::1%eth0`). As in the
 * URL standard, a name whose last label is a number is an IPv4 address: no top-level domain is numeric.
 */
export function isIpLiteral(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  h = h.replace(/%.*$/, '');
  if (isIP(h) !== 0) return true;
  if (h.includes(':')) return true;
  const labels = h.replace(/\.$/, '').split('.');
  const last = labels[labels.length - 1];
  return /^(0x[0-9a-f]*|[0-9]+)$/.test(last);
}

/**
 * The rules every alias host name follows, apart from who holds it: a DNS name (not an address, not this machine's
 * loopback name) outside the apps domain, whose names belong to the platform's own app URLs. Pure.
 */
export function aliasHostRefusal(host: string, appsDomain: string): HostRefusal | null {
  const h = host.toLowerCase();
  if (isIpLiteral(h)) {
    return { kind: 'rule', rule: 'not-ip-address', message: `${host} is an IP address; an alias must be a DNS name that points at the router` };
  }
  const bare = h.replace(/\.$/, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) {
    return { kind: 'rule', rule: 'not-localhost', message: `${host} names the machine itself (loopback); an alias must be a DNS name of its own` };
  }
  if (h.length > 253 || !h.includes('.') || !h.split('.').every((l) => LABEL.test(l))) {
    return { kind: 'invalid', rule: 'pattern', message: 'must be a DNS host name such as www.example.com (letters, digits, hyphens and dots)' };
  }
  const apps = appsDomain.toLowerCase();
  if (h === apps || h.endsWith(`.${apps}`)) {
    return { kind: 'rule', rule: 'reserved', message: `${host} is under ${appsDomain}, which belongs to the platform's own app URLs` };
  }
  return null;
}
