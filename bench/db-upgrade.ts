import { docker, execIn, Platform } from '../test/support/platform';

type AddRow = (what: string, platform: string, floor: string, ratio: string, goal: string) => void;

const ROWS = Number(process.env.BENCH_DB_ROWS || 10_000);

/**
 * `BENCH_ONLY=db-upgrade`: a PostgreSQL 15 app with ROWS rows (BENCH_DB_ROWS) and a Node.js web gear subscribed to it
 * moves to PostgreSQL 17 in one operation. The time of the whole operation through the API, and of each step, read
 * off the operation's own step times; beside it the floor, a plain pg_dump and psql of the same rows in one gear.
 */
export async function dbUpgradeBench(add: AddRow): Promise<void> {
  const p = await Platform.start('bench-dbup');
  try {
    await p.api('POST', '/domains', { name: 'dbup' });
    const created = await p.api('POST', '/domains/dbup/apps?wait=600', { name: 'shop', cartridges: ['nodejs-24', 'postgresql-15'] });
    if (created.body.operation?.state !== 'succeeded') throw new Error(`db-upgrade bench app failed: ${JSON.stringify(created.body)}`);
    const gear = async (cartridge: string) => {
      const [c] = await p.containers({ 'gearshift.app-name': 'shop', 'gearshift.cartridge': cartridge });
      const info = await docker.getContainer(c.Id).inspect();
      const env = Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
      return { id: c.Id, env };
    };
    const psql = async (cartridge: string, sql: string) => {
      const g = await gear(cartridge);
      return execIn(g.id, ['psql', '-qAt', '-h', '/run/postgresql', '-U', g.env.POSTGRESQL_USER, '-d', g.env.POSTGRESQL_DATABASE, '-c', sql]);
    };
    await psql(
      'postgresql-15',
      `create table items (id serial primary key, name text not null, price numeric(10,2), created timestamptz default now());
       insert into items (name, price) select 'item ' || n, n * 0.25 from generate_series(1, ${ROWS}) n;`,
    );
    const t0 = performance.now();
    const res = await p.api('POST', '/domains/dbup/apps/shop/cartridges/postgresql-15/upgrade?wait=600', { to: 'postgresql-17' });
    const took = (performance.now() - t0) / 1000;
    const op = res.body.operation;
    if (op?.state !== 'succeeded') throw new Error(`the upgrade failed: ${JSON.stringify(op)}`);
    const rows = await psql('postgresql-17', 'select count(*) from items');
    if (rows !== String(ROWS)) throw new Error(`postgresql-17 has ${rows} rows, not ${ROWS}`);

    // The floor: the same dump and restore by hand, inside the new gear: pg_dump to a file, drop, psql it back.
    const g = await gear('postgresql-17');
    const conn = `-h /run/postgresql -U "$POSTGRESQL_USER"`;
    const f0 = performance.now();
    await execIn(g.id, [
      'sh',
      '-c',
      `pg_dump --no-owner --no-privileges ${conn} "$POSTGRESQL_DATABASE" > /tmp/floor.sql && psql -q ${conn} -d "$POSTGRESQL_DATABASE" -c 'drop table items' && psql -q -v ON_ERROR_STOP=1 ${conn} -d "$POSTGRESQL_DATABASE" -f /tmp/floor.sql && rm /tmp/floor.sql`,
    ]);
    const floor = (performance.now() - f0) / 1000;
    const again = await psql('postgresql-17', 'select count(*) from items');
    if (again !== String(ROWS)) throw new Error(`the floor's restore left ${again} rows`);

    add(
      `db upgrade postgresql-15 → 17, ${ROWS} rows, with a subscribed web gear`,
      `${took.toFixed(1)} s`,
      `${floor.toFixed(1)} s`,
      (took / floor).toFixed(1),
      '',
    );
    const steps = op.steps as { at: string; text: string }[];
    for (let i = 1; i < steps.length; i++) {
      if (steps[i].text === 'node finished') continue;
      const s = (Date.parse(steps[i].at) - Date.parse(steps[i - 1].at)) / 1000;
      add(`  until: ${steps[i].text.slice(0, 70)}`, `${s.toFixed(1)} s`, '', '', '');
    }
  } finally {
    await p.stop();
  }
}
