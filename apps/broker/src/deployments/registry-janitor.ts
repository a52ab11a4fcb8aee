import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { request } from 'node:http';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Leadership } from '../leadership/leadership.service';
import { AppsRepository } from '../apps/apps.repository';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { basicAuth, RELEASE_APP_ID, RELEASE_REPOSITORY, releaseNumberOf } from '../apps/release-images';

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

/**
 * Removes release images from the registry that no release needs any more: those of pruned releases and of deleted
 * apps. Reads what is there and compares it with Postgres, so a crash or a missed call leaves nothing behind for
 * good; the registry frees the space of removed images when it is next garbage-collected (`npm run up` does that
 * when it starts the registry). The leading broker sweeps; the others leave the registry alone.
 */
@Injectable()
export class RegistryJanitor implements OnApplicationBootstrap {
  private readonly logger = new Logger('registry');
  private running?: Promise<number>;

  constructor(
    private readonly apps: AppsRepository,
    private readonly deployments: DeploymentsRepository,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly leadership: Leadership,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.config.registry) return;
    this.leadership.whileLeader('registry janitor', () => {
      const timer = setInterval(() => void this.sweep().catch(() => undefined), 10 * 60_000);
      timer.unref();
      void this.sweep().catch(() => undefined);
      return () => clearInterval(timer);
    });
  }

  /** One pass at a time; resolves to how many images went. */
  sweep(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<number> {
    const base = `http://${this.config.registry}/v2`;
    const prefix = `${RELEASE_REPOSITORY}/${this.config.instance}-`;
    // Releases are named by the app's whole id; those made before, by its first 8 hex digits.
    const repos = (await this.repositories()).filter((r) => r.startsWith(prefix) && RELEASE_APP_ID.test(r.slice(prefix.length)));
    if (repos.length === 0) return 0;
    const { apps, deployments } = this;
    const ids = await apps.ids();
    const byName = new Map([...ids.map((id) => [id.slice(0, 8), id] as const), ...ids.map((id) => [id, id] as const)]);
    let removed = 0;
    for (const repo of repos) {
      const appId = byName.get(repo.slice(prefix.length));
      const tags = ((await this.get(`${base}/${repo}/tags/list`)) as { tags?: string[] | null } | null)?.tags ?? [];
      if (tags.length === 0) continue;
      // A release that is being built has a row already: only pruned releases and deleted apps let go of images.
      const pruned = appId ? new Set((await deployments.prunedNumbers(appId)).map(String)) : null;
      for (const tag of tags) {
        // A named service's image goes with its release (see serviceImage).
        if (pruned && !pruned.has(releaseNumberOf(tag))) continue;
        if (await this.remove(base, repo, tag)) removed++;
      }
    }
    if (removed > 0) this.logger.log(`removed ${removed} release image(s) no release needs from the registry`);
    return removed;
  }

  /** Every repository in the registry, page by page (it serves at most 1000 names a page). */
  private async repositories(): Promise<string[]> {
    const all: string[] = [];
    let next: string | null = `/v2/_catalog?n=1000`;
    while (next) {
      const res = await this.call('GET', `http://${this.config.registry}${next}`);
      if (res.status !== 200) throw new Error(`the registry's catalogue answered ${res.status}`);
      all.push(...((JSON.parse(res.body) as { repositories?: string[] }).repositories ?? []));
      next = /<([^>]+)>;\s*rel="next"/.exec(String(res.headers.link ?? ''))?.[1] ?? null;
    }
    return all;
  }

  private async remove(base: string, repo: string, tag: string): Promise<boolean> {
    const head = await this.call('HEAD', `${base}/${repo}/manifests/${tag}`, { accept: MANIFEST_TYPES });
    const digest = head.headers['docker-content-digest'];
    if (head.status !== 200 || typeof digest !== 'string') return false;
    const res = await this.call('DELETE', `${base}/${repo}/manifests/${digest}`);
    if (res.status !== 202 && res.status !== 404) this.logger.warn(`the registry refused to remove ${repo}:${tag} (${res.status})`);
    return res.status === 202;
  }

  private async get(url: string): Promise<unknown> {
    const res = await this.call('GET', url);
    return res.status === 200 ? JSON.parse(res.body) : null;
  }

  /** A call with the registry's credentials, when it has some. */
  private call(method: string, url: string, headers: Record<string, string> = {}) {
    const auth = this.config.registryAuth;
    return call(method, url, auth ? { ...headers, authorization: basicAuth(auth) } : headers);
  }
}

/** One plain HTTP exchange (node:http: the broker does not load fetch's client for this). */
function call(
  method: string,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
