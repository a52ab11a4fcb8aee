import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppData } from './manifest';
import { say, type PlatformSettings } from './settings';

/**
 * App data in a platform backup: a fresh snapshot of every app that has data (its databases, its volumes), taken and
 * put back through the broker's API as an admin, exactly as `POST .../snapshots` and `.../snapshots/restore` do.
 */

class BrokerApi {
  private token = '';
  constructor(private readonly base: string) {}

  static async login(settings: PlatformSettings, env: NodeJS.ProcessEnv): Promise<BrokerApi> {
    const api = new BrokerApi(`${env.GEARSHIFT_BROKER_URL || `http://${settings.host}:${settings.port}`}/api/v1`);
    if (env.GEARSHIFT_TOKEN) {
      api.token = env.GEARSHIFT_TOKEN;
      return api;
    }
    const file = join(settings.dataDir, 'admin-password');
    const password = env.GEARSHIFT_ADMIN_PASSWORD || (existsSync(file) ? readFileSync(file, 'utf8').trim() : '');
    if (!password) throw new Error(`app data needs the broker's admin: set GEARSHIFT_TOKEN or GEARSHIFT_ADMIN_PASSWORD (${file} does not exist)`);
    const res = await api.call('POST', '/auth/login', { body: JSON.stringify({ username: 'admin', password }), type: 'application/json' });
    api.token = ((await res.json()) as { token: string }).token;
    return api;
  }

  async call(method: string, path: string, init: { body?: string | Buffer; type?: string } = {}, accept: number[] = []): Promise<Response> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (init.type) headers['content-type'] = init.type;
    const res = await fetch(`${this.base}${path}`, { method, headers, body: init.body }).catch((err: Error) => {
      throw new Error(`the broker at ${this.base} does not answer (${err.message}): app data is taken and restored through a running platform`);
    });
    if (!res.ok && !accept.includes(res.status)) throw new Error(`the broker answered ${res.status} to ${method} ${path}: ${(await res.text()).slice(0, 300)}`);
    return res;
  }
}

/** Takes a snapshot of each app with data into `app-data/<domain>/<app>.tar.gz` under `staging`. */
export async function takeAppData(settings: PlatformSettings, staging: string, env: NodeJS.ProcessEnv): Promise<AppData[]> {
  const api = await BrokerApi.login(settings, env);
  const domains = (await (await api.call('GET', '/domains')).json()) as { name: string }[];
  const taken: AppData[] = [];
  for (const { name: domain } of domains) {
    const apps = (await (await api.call('GET', `/domains/${domain}/apps`)).json()) as { name: string }[];
    for (const { name: app } of apps) {
      const res = await api.call('POST', `/domains/${domain}/apps/${app}/snapshots`, {}, [422]);
      // 422: an app with no data to snapshot (a static site, say).
      if (res.status === 422) continue;
      const path = `app-data/${domain}/${app}.tar.gz`;
      mkdirSync(join(staging, 'app-data', domain), { recursive: true });
      writeFileSync(join(staging, path), Buffer.from(await res.arrayBuffer()));
      taken.push({ domain, app, path });
      say(`  took a snapshot of ${domain}/${app}`);
    }
  }
  return taken;
}

/** Puts each app's snapshot back into the app of the same name, one operation at a time. */
export async function restoreAppData(settings: PlatformSettings, unpacked: string, data: AppData[], env: NodeJS.ProcessEnv): Promise<void> {
  const api = await BrokerApi.login(settings, env);
  for (const d of data) {
    const res = await api.call('POST', `/domains/${d.domain}/apps/${d.app}/snapshots/restore?wait=600`, {
      body: readFileSync(join(unpacked, d.path)),
      type: 'application/gzip',
    });
    const { operation } = (await res.json()) as { operation: { state: string; error: string | null } };
    if (operation.state !== 'succeeded') throw new Error(`restoring the data of ${d.domain}/${d.app} ended ${operation.state}: ${operation.error ?? ''}`);
    say(`  restored the data of ${d.domain}/${d.app}`);
  }
}
