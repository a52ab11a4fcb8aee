import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, execIn, getJson, Platform, runCli } from './support/platform';

interface Step {
  text: string;
}

/** What POST /apply answers, as far as these tests read it. */
interface ApplyAnswer {
  plan: { action: string; target: string }[];
  losesData?: boolean;
  details: { rule: string }[];
  operation: { state: string; steps: Step[] };
}

/**
 * A database moves to a new major version in one operation and keeps every row: PostgreSQL 15 → 17 with a web app
 * subscribed to it that writes all along (every write it was told succeeded is in 17), MariaDB 10.11 → 11.8 and
 * Redis 7 → Valkey 8; the old gear stays stopped with its volume until the upgrade is confirmed. An upgrade that cannot finish (here: the node has no room for the new gear) leaves the
 * old database serving and the subscriber as it was.
 */
describe('database upgrades that keep the data', { timeout: 1_500_000 }, () => {
  let p: Platform;
  let home: string;
  const apps = '/domains/up/apps';

  before(async () => {
    // Room for six gears: the failing upgrade at the end finds the node full.
    p = await Platform.start('dbupgrade', { node1: { maxGears: 6 } });
    home = mkdtempSync(join(tmpdir(), 'gearshift-dbupgrade-cli-'));
    assert.equal((await p.api('POST', '/domains', { name: 'up' })).status, 201);
    assert.equal((await runCli(p, home, ['login', '--password-stdin'], `${p.adminPassword}\n`)).code, 0);
  });
  after(async () => {
    await p?.stop();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  async function create(name: string, cartridges: string[]) {
    const res = await p.api('POST', `${apps}?wait=600`, { name, cartridges });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', `${res.body.operation.error}\n${p.logs()}`);
    return res.body;
  }
  const webUrl = (app: { gears: { cartridge: string; endpoints?: { http?: string } }[] }) =>
    app.gears.find((g) => g.endpoints?.http)?.endpoints?.http as string;
  async function container(app: string, cartridge: string) {
    const [c] = await p.containers({ 'gearshift.app-name': app, 'gearshift.cartridge': cartridge });
    assert.ok(c, `a ${cartridge} gear of ${app}`);
    const info = await docker.getContainer(c.Id).inspect();
    const env = Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    return { id: c.Id, env, running: info.State.Running };
  }
  const psql = async (app: string, cartridge: string, sql: string) => {
    const { id, env } = await container(app, cartridge);
    return execIn(id, ['psql', '-qAt', '-h', '/run/postgresql', '-U', env.POSTGRESQL_USER, '-d', env.POSTGRESQL_DATABASE, '-c', sql]);
  };
  const mariadb = async (app: string, cartridge: string, sql: string) => {
    const { id, env } = await container(app, cartridge);
    return execIn(id, ['mariadb', '-N', '-B', `-u${env.MYSQL_USER}`, `-p${env.MYSQL_PASSWORD}`, env.MYSQL_DATABASE, '-e', sql]);
  };
  const volumesOf = async (cartridge: string) => (await p.volumes()).map((v) => v.Name).filter((v) => v.endsWith(`-${cartridge}-data`));

  it('moves a PostgreSQL 15 app with rows to 17, every row kept and every acknowledged write, its web gears serving from 17', async () => {
    const created = await create('shop', ['nodejs-24', 'postgresql-15']);
    await psql(
      'shop',
      'postgresql-15',
      "create table items (id serial primary key, name text not null); insert into items (name) select 'item ' || n from generate_series(1, 2500) n;" +
        "create table notes (body text); insert into notes values ('first'), ('second');" +
        'create table gearshift_selftest (v varchar(200));',
    );
    // The app writes a row every ~100 ms through its web gear (the starter's /selftest inserts one and reads it back)
    // during the whole upgrade. Each write it acknowledges must be in 17; the others must have failed, not vanished.
    const acknowledged: string[] = [];
    const refused: { at: number; error: string }[] = [];
    let writing = true;
    // Three writers side by side: on a busy machine one request may take longer than the moment 15 takes no writes.
    const writer = Promise.all(
      [0, 1, 2].map(async () => {
        while (writing) {
          const r = await getJson(`${webUrl(created)}/selftest`);
          const pg = r?.body?.postgresql as { wrote: string; read?: string } | undefined;
          if (pg?.read && pg.read === pg.wrote) acknowledged.push(pg.wrote);
          else if (r?.body?.sql?.error) refused.push({ at: Date.now(), error: String(r.body.sql.error) });
          await new Promise((res) => setTimeout(res, 100));
        }
      }),
    );
    while (acknowledged.length < 3) await new Promise((res) => setTimeout(res, 100));
    const before = await getJson(webUrl(created));
    assert.match(before?.body.database.version, /^PostgreSQL 15\./, JSON.stringify(before?.body));

    // Only the same family's newer major (or a drop-in): the refusal names /to.
    const wrong = await p.api('POST', `${apps}/shop/cartridges/postgresql-15/upgrade`, { to: 'mariadb-11.8' });
    assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
    assert.equal(wrong.body.details[0].pointer, '/to');

    const r = await runCli(p, home, ['cartridge', 'upgrade', 'shop', 'postgresql-15', '--to', 'postgresql-17', '--domain', 'up', '--json']);
    writing = false;
    await writer;
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${p.logs()}`);
    const out = JSON.parse(r.stdout);
    assert.equal(out.operation.state, 'succeeded', JSON.stringify(out.operation));
    const steps = (out.operation.steps as Step[]).map((s) => s.text).join('\n');
    // The row counts before and after are in the operation's steps.
    assert.match(steps, /postgresql-15: 3 table\(s\), \d+ row\(s\) \(public\.gearshift_selftest \d+, public\.items 2500, public\.notes 2\)/, steps);
    assert.match(steps, /postgresql-17: 3 table\(s\), \d+ row\(s\)/, steps);
    assert.match(steps, /postgresql-15 takes no writes/, steps);

    // Every write the app was told succeeded is in 17; during the copy the app's writes failed, saying why.
    const copied = new Set((await psql('shop', 'postgresql-17', 'select v from gearshift_selftest')).split('\n'));
    const lost = acknowledged.filter((v) => !copied.has(v));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged write(s) are not in postgresql-17`);
    assert.ok(refused.length > 0, 'some writes came while postgresql-15 took none');
    assert.ok(
      refused.some((x) => /read-only transaction/.test(x.error)),
      refused.map((x) => x.error).join('\n'),
    );
    const readOnly = refused.filter((x) => /read-only/.test(x.error));
    const window = readOnly.length ? readOnly[readOnly.length - 1].at - readOnly[0].at : 0;
    process.stdout.write(
      `# ${acknowledged.length} acknowledged write(s); ${readOnly.length} refused as read-only over ${window} ms, ${refused.length} failed in all\n`,
    );

    assert.equal(await psql('shop', 'postgresql-17', 'select count(*) from items'), '2500');
    assert.equal(await psql('shop', 'postgresql-17', "select string_agg(body, ',' order by body) from notes"), 'first,second');
    assert.match(await psql('shop', 'postgresql-17', 'show server_version'), /^17\./);

    const app = (await p.api('GET', `${apps}/shop`)).body;
    assert.deepEqual(app.kept, [{ cartridge: 'postgresql-15', upgradedTo: 'postgresql-17' }]);
    const page = await getJson(webUrl(app));
    assert.match(page?.body.database.version, /^PostgreSQL 17\./, JSON.stringify(page?.body));
    const web = await container('shop', 'nodejs-24');
    assert.match(web.env.DATABASE_URL, /@postgresql-17:5432\//);
    // The old gear is stopped; its volume waits for the confirmation.
    assert.equal((await container('shop', 'postgresql-15')).running, false);
    assert.equal((await volumesOf('postgresql-15')).length, 1);

    // While the upgrade waits it says so, and the app serves.
    assert.equal(app.status, 'upgraded', JSON.stringify(app));

    // A gearshift.yml that names the kept database again aborts the upgrade (losing what 17 took: allowDataLoss); one
    // that names both is refused. Neither is a 500, and the dry run says the same.
    const applyShop = (cartridges: string, query: string) =>
      fetch(`${p.baseUrl}/api/v1/domains/up/apply?${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
        body: `name: shop\ncartridges: [${cartridges}]\n`,
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as ApplyAnswer }));
    for (const query of ['dryRun=true', 'allowDataLoss=true&wait=60']) {
      const both = await applyShop('nodejs-24, postgresql-15, postgresql-17', query);
      assert.equal(both.status, 422, JSON.stringify(both.body));
      assert.equal(both.body.details[0].rule, 'upgrade-waiting');
    }
    const dry = await applyShop('nodejs-24, postgresql-15', 'dryRun=true');
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(
      dry.body.plan.map((i) => [i.action, i.target]),
      [['abort', 'upgrade of postgresql-15 to postgresql-17']],
    );
    assert.equal(dry.body.losesData, true);
    const unconfirmed = await applyShop('nodejs-24, postgresql-15', 'wait=60');
    assert.equal(unconfirmed.status, 422, JSON.stringify(unconfirmed.body));
    assert.equal(unconfirmed.body.details[0].rule, 'data-loss');

    // The abort: 15 starts and is healthy, takes writes again, then the web gears move back behind the health gate.
    const aborted = await applyShop('nodejs-24, postgresql-15', 'allowDataLoss=true&wait=600');
    assert.equal(aborted.status, 202, JSON.stringify(aborted.body));
    assert.equal(aborted.body.operation.state, 'succeeded', JSON.stringify(aborted.body.operation));
    const abortSteps = aborted.body.operation.steps.map((s) => s.text).join('\n');
    assert.match(abortSteps, /postgresql-15 is healthy; letting it take writes again/, abortSteps);
    assert.match(abortSteps, /postgresql-15 takes writes again; switching the subscribers back: 1 new web gear\(s\)/, abortSteps);
    const back = (await p.api('GET', `${apps}/shop`)).body;
    assert.deepEqual(back.cartridges, ['nodejs-24', 'postgresql-15']);
    assert.equal(back.kept, undefined);
    assert.match((await container('shop', 'nodejs-24')).env.DATABASE_URL, /@postgresql-15:5432\//);
    assert.deepEqual(await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': 'postgresql-17' }), []);
    const wrote = await getJson(`${webUrl(back)}/selftest`);
    assert.ok(wrote?.body?.postgresql?.read, `postgresql-15 takes writes again: ${JSON.stringify(wrote?.body)}`);
    const page15 = await getJson(webUrl(back));
    assert.match(page15?.body.database.version, /^PostgreSQL 15\./, JSON.stringify(page15?.body));

    // Upgraded again, then confirmed.
    const again = await p.api('POST', `${apps}/shop/cartridges/postgresql-15/upgrade?wait=600`, { to: 'postgresql-17' });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal(again.body.operation.state, 'succeeded', JSON.stringify(again.body.operation));

    const confirm = await runCli(p, home, ['cartridge', 'upgrade', 'shop', '--confirm', '--domain', 'up', '--json']);
    assert.equal(confirm.code, 0, `${confirm.stdout}\n${confirm.stderr}`);
    assert.equal(JSON.parse(confirm.stdout).kept, undefined);
    assert.deepEqual(await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': 'postgresql-15' }), []);
    assert.deepEqual(await volumesOf('postgresql-15'), []);
    assert.equal(await psql('shop', 'postgresql-17', 'select count(*) from items'), '2500');
  });

  it('moves MariaDB 10.11 to 11.8, and an abort brings 10.11 back', async () => {
    await create('ledger', ['mariadb-10.11']);
    await mariadb(
      'ledger',
      'mariadb-10.11',
      "create table entries (id int primary key, memo varchar(40)); insert into entries values (1, 'a'), (2, 'b'), (3, 'c');",
    );
    const res = await p.api('POST', `${apps}/ledger/cartridges/mariadb-10.11/upgrade?wait=600`, { to: 'mariadb-11.8' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', JSON.stringify(res.body.operation));
    assert.match(
      (res.body.operation.steps as Step[]).map((s) => s.text).join('\n'),
      /mariadb-11\.8: 1 table\(s\), 3 row\(s\) \(entries 3\), as in mariadb-10\.11/,
    );
    assert.equal(await mariadb('ledger', 'mariadb-11.8', 'select group_concat(memo order by id) from entries'), 'a,b,c');
    assert.match(await mariadb('ledger', 'mariadb-11.8', 'select version()'), /^11\.8\./);

    const abort = await p.api('POST', `${apps}/ledger/cartridges/mariadb-10.11/upgrade?wait=300`, { abort: true });
    assert.equal(abort.status, 202, JSON.stringify(abort.body));
    assert.equal(abort.body.operation.state, 'succeeded', JSON.stringify(abort.body.operation));
    assert.deepEqual(abort.body.cartridges, ['mariadb-10.11']);
    assert.equal(abort.body.kept, undefined);
    assert.equal(await mariadb('ledger', 'mariadb-10.11', 'select count(*) from entries'), '3');
    assert.deepEqual(await volumesOf('mariadb-11.8'), []);
  });

  it('moves Redis 7 to Valkey 8 with every key', async () => {
    await create('cache', ['redis-7']);
    const redis = await container('cache', 'redis-7');
    for (let i = 0; i < 20; i++) await execIn(redis.id, ['redis-cli', '-a', redis.env.REDIS_PASSWORD, '--no-auth-warning', 'set', `k${i}`, `v${i}`]);
    await execIn(redis.id, ['redis-cli', '-a', redis.env.REDIS_PASSWORD, '--no-auth-warning', 'rpush', 'queue', 'x', 'y']);
    // Through its gearshift.yml this time: the plan says upgrade, not remove and add.
    const apply = (dryRun: boolean) =>
      fetch(`${p.baseUrl}/api/v1/domains/up/apply?${dryRun ? 'dryRun=true' : 'wait=600'}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'text/yaml' },
        body: 'name: cache\ncartridges: [valkey-8]\n',
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { plan: { action: string; target: string; to: string }[]; operation: { state: string; steps: Step[] } },
      }));
    const plan = await apply(true);
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    assert.deepEqual(
      plan.body.plan.map((i) => [i.action, i.target, i.to]),
      [['upgrade', 'cartridge redis-7', 'valkey-8']],
    );
    const res = await apply(false);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.operation.state, 'succeeded', JSON.stringify(res.body.operation));
    assert.match((res.body.operation.steps as Step[]).map((s) => s.text).join('\n'), /valkey-8: 21 key\(s\), as in redis-7/);
    const valkey = await container('cache', 'valkey-8');
    const cli = (...args: string[]) => execIn(valkey.id, ['valkey-cli', '-a', valkey.env.REDIS_PASSWORD, '--no-auth-warning', ...args]);
    assert.equal(await cli('dbsize'), '21');
    assert.equal(await cli('get', 'k7'), 'v7');
    assert.equal(await cli('lrange', 'queue', '0', '-1'), 'x\ny');
    // Deleting the kept cartridge confirms the upgrade.
    const gone = await p.api('DELETE', `${apps}/cache/cartridges/redis-7?wait=300`);
    assert.equal(gone.body.operation.state, 'succeeded', JSON.stringify(gone.body.operation));
    assert.deepEqual(gone.body.cartridges, ['valkey-8']);
    assert.deepEqual(await volumesOf('redis-7'), []);
  });

  it('leaves the old database serving and the subscriber unchanged when the upgrade cannot finish', async () => {
    // shop (2 gears), ledger (1), cache (1), and this app's 2 fill the node: the new gear finds no room.
    const created = await create('blog', ['nodejs-24', 'postgresql-15']);
    await psql('blog', 'postgresql-15', "create table posts (title text); insert into posts values ('hello');");
    const webBefore = await container('blog', 'nodejs-24');
    const res = await p.api('POST', `${apps}/blog/cartridges/postgresql-15/upgrade?wait=600`, { to: 'postgresql-17' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const op = res.body.operation;
    assert.equal(op.state, 'failed', JSON.stringify(op));
    // Which step failed, and why.
    assert.match(op.error, /failed at starting postgresql-17: .*postgresql-15 keeps serving/, op.error);
    assert.match((op.steps as Step[]).map((s) => s.text).join('\n'), /postgresql-15: 1 table\(s\), 1 row\(s\) \(public\.posts 1\)/);

    const app = (await p.api('GET', `${apps}/blog`)).body;
    assert.deepEqual(app.cartridges, ['nodejs-24', 'postgresql-15']);
    assert.equal(app.kept, undefined);
    assert.equal(await psql('blog', 'postgresql-15', 'select title from posts'), 'hello');
    const webAfter = await container('blog', 'nodejs-24');
    assert.equal(webAfter.id, webBefore.id);
    assert.equal(webAfter.env.DATABASE_URL, webBefore.env.DATABASE_URL);
    const page = await getJson(webUrl(created));
    assert.match(page?.body.database.version, /^PostgreSQL 15\./, JSON.stringify(page?.body));
    assert.deepEqual(await p.containers({ 'gearshift.app-name': 'blog', 'gearshift.cartridge': 'postgresql-17' }), []);
  });

  it('lets the old database take writes again when an upgrade is cancelled while it takes none', async () => {
    const res = await p.api('POST', `${apps}/blog/cartridges/postgresql-15/upgrade`, { to: 'postgresql-17' });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.operation.id as string;
    const deadline = Date.now() + 120_000;
    let op = res.body.operation as { state: string; steps: Step[] };
    while (!op.steps.some((s) => /takes no writes \(the app's writes fail/.test(s.text)) && op.state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      op = (await p.api('GET', `/operations/${id}`)).body;
    }
    // Cancelled while it copies (or, on a fast machine, already failed for want of room: then it resumed on its own).
    const cancelled = await p.api('POST', `/operations/${id}/cancel`);
    assert.ok(cancelled.status === 200 || (cancelled.status === 409 && op.state === 'failed'), JSON.stringify(cancelled.body));
    let answer = '';
    for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((r) => setTimeout(r, 500))) {
      answer = await psql('blog', 'postgresql-15', "insert into posts values ('after'); select count(*) from posts");
      if (answer === '2') break;
    }
    assert.equal(answer, '2', `postgresql-15 takes writes again: ${answer}`);
  });
});
