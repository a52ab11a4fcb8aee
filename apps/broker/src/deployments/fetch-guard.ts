import { Inject, Injectable, Logger } from '@nestjs/common';
import { lookup } from 'node:dns/promises';
import { machineAddresses, parsePostgresUrl } from '@gearshift/cartridges';
import { BROKER_CONFIG, ConfigError, type BrokerConfig } from '../config';
import { invalid, ruleViolation, type GearshiftError } from '../common/errors';
import { parseAllowList, parseIp, refusal, type AddressRange, type Endpoint, type FetchRules, type Ip } from './fetch-policy';

/** The one answer to every source host a fetch may not reach: which address or port it was is not told. */
export const NOT_REACHABLE = 'the source URL is not reachable from Gearshift: its host is not allowed';

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443, 'git:': 9418 };
const LOOKUP_TIMEOUT_MS = 10_000;

/** A git URL whose host was checked, and the git settings that make the fetch go to the addresses checked. */
export interface CheckedSource {
  url: string;
  gitConfig: string[];
}

/**
 * Checks a tenant's git URL before the broker fetches it: the host is resolved once, every address it has must be
 * one a fetch may reach (fetch-policy.ts), and git is then held to those addresses, so that a second lookup (DNS
 * rebinding) or a redirect cannot lead it elsewhere.
 */
@Injectable()
export class FetchGuard {
  private readonly logger = new Logger('fetches');
  private readonly allow: AddressRange[];

  constructor(@Inject(BROKER_CONFIG) private readonly config: BrokerConfig) {
    try {
      this.allow = parseAllowList(config.fetchAllow);
    } catch (err) {
      throw new ConfigError(`GEARSHIFT_FETCH_ALLOW: ${(err as Error).message}`);
    }
  }

  async check(raw: string): Promise<CheckedSource> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw invalid('/git/url', 'url', 'must be a URL');
    }
    // A URL of another scheme (file:, ext:, ssh:) is refused as every URL a fetch may not use is: 422, the same words.
    if (!(url.protocol in DEFAULT_PORTS)) throw this.refuse(url, `its scheme ${url.protocol} is not one a fetch uses (http, https, git)`);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (!host) throw invalid('/git/url', 'url', 'must name a host');
    const port = url.port ? Number(url.port) : DEFAULT_PORTS[url.protocol];

    const addresses = await resolve(host).catch(() => null);
    if (!addresses?.length) throw this.refuse(url, 'its host does not resolve');
    const rules = await this.rules();
    for (const address of addresses) {
      const ip = parseIp(address);
      const why = ip ? refusal(rules, ip, port) : 'not an address';
      if (why) throw this.refuse(url, `${address} is ${why}`);
    }

    const bracket = (a: string) => (a.includes(':') ? `[${a}]` : a);
    // http.followRedirects=false: a redirect would lead git to a host nobody checked.
    const gitConfig = ['-c', 'http.followRedirects=false'];
    if (url.protocol === 'git:') {
      // git's own protocol has no setting that pins a name to an address: the URL names the address instead.
      url.hostname = bracket(addresses[0]);
    } else if (!parseIp(host)) {
      gitConfig.push('-c', `http.curloptResolve=${host}:${port}:${addresses.map(bracket).join(',')}`);
    }
    return { url: url.href, gitConfig };
  }

  /** The reason stays in the broker's log, for the operator; the tenant gets the same answer every time. */
  private refuse(url: URL, why: string): GearshiftError {
    this.logger.warn(`refused to fetch from ${url.protocol}//${url.host}: ${why}`);
    return ruleViolation('/git/url', 'allowed-host', NOT_REACHABLE);
  }

  private async rules(): Promise<FetchRules> {
    // Every address of this host, those of interfaces that are down (docker0 with no container) included.
    const local = machineAddresses()
      .map((a) => parseIp(a))
      .filter((ip): ip is Ip => ip !== null);
    const services = await Promise.all(
      platformEndpoints(this.config).map(async (e) => ((await resolve(e.host).catch(() => [])) ?? []).map((a) => ({ ip: parseIp(a), port: e.port }))),
    );
    return { allow: this.allow, local, services: services.flat().filter((s): s is { ip: Ip; port: number } => s.ip !== null) };
  }
}

/**
 * Where the platform's own services listen, as this broker is told. A Postgres reached through its Unix socket has
 * no address a fetch could be pointed at; one reached over TCP has, and it is among them.
 */
export function platformEndpoints(config: Pick<BrokerConfig, 'host' | 'port' | 'redisUrl' | 'databaseUrl' | 'registry'>): Endpoint[] {
  const of = (raw: string, fallback: number): Endpoint[] => {
    try {
      const u = new URL(raw);
      return [{ host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : fallback }];
    } catch {
      return [];
    }
  };
  const database = parsePostgresUrl(config.databaseUrl, 'DATABASE_URL');
  return [
    { host: config.host, port: config.port },
    ...of(config.redisUrl, 6379),
    ...(database.host !== undefined ? [{ host: database.host, port: database.port }] : []),
    ...(config.registry ? of(`http://${config.registry}`, 80) : []),
  ];
}

/** Every address of a host name (an address stands for itself), from the system's resolver, within a deadline. */
async function resolve(host: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('lookup timed out')), LOOKUP_TIMEOUT_MS)));
  try {
    const found = await Promise.race([lookup(host, { all: true, verbatim: true }), deadline]);
    return found.map((a) => a.address);
  } finally {
    clearTimeout(timer);
  }
}
