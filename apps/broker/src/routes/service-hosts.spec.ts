import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GearshiftError } from '../common/errors';
import type { AliasesRepository } from './aliases.repository';
import { holdServiceHosts, serviceHostsOf } from './service-hosts';

type Row = { appId: string; teamId: string; service: string | null };

/** The aliases table as holdServiceHosts sees it: host → holder. */
function table(rows: Record<string, Row>) {
  const repo = {
    holderOf: async (host: string) => rows[host] ?? null,
    holdServiceHosts: async (appId: string, hosts: Map<string, string>) => {
      const missed: string[] = [];
      for (const [host, service] of hosts) {
        const row = rows[host];
        if (row && (row.appId !== appId || row.service === null)) missed.push(host);
        else rows[host] = { appId, teamId: 'ours', service };
      }
      return missed;
    },
  };
  return { repo: repo as unknown as AliasesRepository, rows };
}

const APP = { id: 'app-1', teamId: 'ours' };

/** The error holdServiceHosts throws, as the API would show it: status code, pointer and rule. */
async function refusal(rows: Record<string, Row>, services: Parameters<typeof holdServiceHosts>[2]): Promise<string> {
  try {
    await holdServiceHosts(table(rows).repo, APP, services, 'apps.test', '/archive/gearshift.yml');
  } catch (err) {
    assert.ok(err instanceof GearshiftError);
    const [d] = err.details as { pointer: string; rule: string }[];
    return `${err.code} ${d.pointer} ${d.rule}`;
  }
  return 'held';
}

describe('web services with host names of their own', () => {
  it('lists the host names of web services only, lower case', () => {
    assert.deepEqual(
      [...serviceHostsOf({ www: { kind: 'web' }, admin: { kind: 'web', hosts: ['Admin.Shop.test', 'ops.shop.test'] }, jobs: { kind: 'worker' } })],
      [
        ['admin.shop.test', 'admin'],
        ['ops.shop.test', 'admin'],
      ],
    );
  });

  it('holds free host names and those the same service or another of the app already holds', async () => {
    const { repo, rows } = table({ 'ops.shop.test': { appId: 'app-1', teamId: 'ours', service: 'old' } });
    await holdServiceHosts(repo, APP, { admin: { kind: 'web', hosts: ['admin.shop.test', 'ops.shop.test'] } }, 'apps.test', '/x');
    assert.deepEqual(rows, {
      'admin.shop.test': { appId: 'app-1', teamId: 'ours', service: 'admin' },
      'ops.shop.test': { appId: 'app-1', teamId: 'ours', service: 'admin' },
    });
  });

  it('refuses a host name another app holds: 409 from the same team, 422 from another team, each naming the host', async () => {
    const services = { www: { kind: 'web' as const }, admin: { kind: 'web' as const, hosts: ['free.shop.test', 'admin.shop.test'] } };
    assert.equal(
      await refusal({ 'admin.shop.test': { appId: 'app-2', teamId: 'ours', service: null } }, services),
      'conflict /archive/gearshift.yml/services/admin/hosts/1 unique',
    );
    assert.equal(
      await refusal({ 'admin.shop.test': { appId: 'app-3', teamId: 'theirs', service: 'admin' } }, services),
      'rule_violation /archive/gearshift.yml/services/admin/hosts/1 owned',
    );
  });

  it("refuses an alias of the app itself, another app's own host name and loopback names", async () => {
    assert.equal(
      await refusal({ 'admin.shop.test': { appId: 'app-1', teamId: 'ours', service: null } }, { admin: { kind: 'web', hosts: ['admin.shop.test'] } }),
      'conflict /archive/gearshift.yml/services/admin/hosts/0 unique',
    );
    assert.equal(
      await refusal({}, { admin: { kind: 'web', hosts: ['shop-dev.apps.test'] } }),
      'rule_violation /archive/gearshift.yml/services/admin/hosts/0 reserved',
    );
    assert.equal(
      await refusal({}, { admin: { kind: 'web', hosts: ['shop-dev.localhost'] } }),
      'rule_violation /archive/gearshift.yml/services/admin/hosts/0 not-localhost',
    );
  });

  it('refuses one host name for two services', async () => {
    assert.equal(
      await refusal({}, { a: { kind: 'web', hosts: ['x.shop.test'] }, b: { kind: 'web', hosts: ['y.shop.test', 'X.shop.test'] } }),
      'rule_violation /archive/gearshift.yml/services/b/hosts/1 one-service-per-host',
    );
  });
});
