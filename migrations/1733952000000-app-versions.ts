import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each app carries two numbers that Postgres moves with triggers, so that no write path can forget them and every
 * broker sees them:
 * - `change_seq` moves whenever anything stored of the app changes: its row, its gears (what the nodes report of them
 *   too: state, container, message), its cartridges, what routes read of its deployments, and the name, address or
 *   loss of a node that runs its gears. A route table reads one number per app and builds again only the apps whose
 *   number moved; before, Postgres digested every gear of every app for each table (some 20 ms at 3,000 gears) while
 *   gears starting asked for tables many times a second.
 * - `desired_seq` moves with what a node should run of the app: the same, less what the nodes report of their gears,
 *   so that storing a report does not make the next heartbeat compare the app again. Heartbeats read it instead of a
 *   digest of every gear of the node's apps (some 4 ms per beat of a node of a hundred apps).
 *
 * The child tables' triggers are per statement, with the rows a statement changed: an app is touched once per
 * statement, and apps are updated in the order of their ids, so two statements touching the same apps wait for one
 * another instead of deadlocking.
 */
export class AppVersions1733952000000 implements MigrationInterface {
  name = 'AppVersions1733952000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('create sequence app_versions');
    await q.query(`alter table apps add column change_seq bigint not null default nextval('app_versions'),
      add column desired_seq bigint not null default nextval('app_versions')`);
    // An update of the app's own row that did not set the numbers itself moves both.
    await q.query(`create function app_versions_own() returns trigger language plpgsql as $$
      begin
        new.change_seq := nextval('app_versions');
        new.desired_seq := nextval('app_versions');
        return new;
      end $$`);
    await q.query(`create trigger app_versions_own before update on apps for each row
      when (old.change_seq is not distinct from new.change_seq) execute function app_versions_own()`);
    // Moves `change_seq` of the apps in `changed` or `desired`, and `desired_seq` of those in `desired`.
    await q.query(`create function app_versions_move(changed uuid[], desired uuid[]) returns void language sql as $$
      update apps set change_seq = nextval('app_versions'),
             desired_seq = case when id = any(desired) then nextval('app_versions') else desired_seq end
       where id = any(array(select distinct x from unnest(changed || desired) x where x is not null order by x))
    $$`);
    // Inserted and deleted rows, and updated rows of cartridges: everything changed.
    await q.query(`create function app_versions_rows() returns trigger language plpgsql as $$
      declare ids uuid[];
      begin
        if tg_op = 'INSERT' then
          ids := array(select app_id from new_rows);
        elsif tg_op = 'DELETE' then
          ids := array(select app_id from old_rows);
        else
          ids := array(select app_id from new_rows union select app_id from old_rows);
        end if;
        perform app_versions_move(ids, ids);
        return null;
      end $$`);
    // A gear's state, container and message are what its node reports; its placement and spec are what it should run.
    // A write that changes neither (a report stored again) moves nothing.
    await q.query(`create function app_versions_gears() returns trigger language plpgsql as $$
      begin
        perform app_versions_move(
          array(select n.app_id from new_rows n join old_rows o on o.id = n.id
                 where (n.state, n.container_id, n.message) is distinct from (o.state, o.container_id, o.message)),
          array(select n.app_id from new_rows n join old_rows o on o.id = n.id
                 where (n.app_id, n.cartridge, n.node_id, n.memory_mb, n.generation, n.epoch, n.deployment_id, n.process,
                        n.service, n.ports, n.inside)
                       is distinct from (o.app_id, o.cartridge, o.node_id, o.memory_mb, o.generation, o.epoch, o.deployment_id,
                        o.process, o.service, o.ports, o.inside)
                union select o.app_id from new_rows n join old_rows o on o.id = n.id where n.app_id is distinct from o.app_id));
        return null;
      end $$`);
    // A deployment's build log grows line by line: only what gears and routes read of it counts.
    await q.query(`create function app_versions_deployments() returns trigger language plpgsql as $$
      declare ids uuid[];
      begin
        ids := array(select n.app_id from new_rows n join old_rows o on o.id = n.id
                      where (n.app_id, n.state, n.image, n.health, n.services, n.processes, n.error)
                            is distinct from (o.app_id, o.state, o.image, o.health, o.services, o.processes, o.error));
        perform app_versions_move(ids, ids);
        return null;
      end $$`);
    for (const table of ['gears', 'app_cartridges', 'deployments']) {
      await q.query(`create trigger ${table}_versions_insert after insert on ${table} referencing new table as new_rows
        for each statement execute function app_versions_rows()`);
      const onUpdate = { gears: 'app_versions_gears', deployments: 'app_versions_deployments' }[table] ?? 'app_versions_rows';
      await q.query(`create trigger ${table}_versions_update after update on ${table} referencing new table as new_rows old table as old_rows
        for each statement execute function ${onUpdate}()`);
      await q.query(`create trigger ${table}_versions_delete after delete on ${table} referencing old table as old_rows
        for each statement execute function app_versions_rows()`);
    }
    // A node's name, address or loss is part of every app with a gear on it; its heartbeats are not.
    await q.query(`create function app_versions_node() returns trigger language plpgsql as $$
      declare ids uuid[];
      begin
        ids := array(select g.app_id from gears g where g.node_id = new.id);
        perform app_versions_move(ids, ids);
        return null;
      end $$`);
    await q.query(`create trigger nodes_versions after update on nodes for each row
      when (old.name is distinct from new.name or old.address is distinct from new.address or old.lost_at is distinct from new.lost_at)
      execute function app_versions_node()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop trigger nodes_versions on nodes');
    await q.query('drop function app_versions_node');
    for (const table of ['gears', 'app_cartridges', 'deployments']) {
      for (const op of ['insert', 'update', 'delete']) await q.query(`drop trigger ${table}_versions_${op} on ${table}`);
    }
    for (const f of ['app_versions_deployments', 'app_versions_gears', 'app_versions_rows', 'app_versions_move']) await q.query(`drop function ${f}`);
    await q.query('drop trigger app_versions_own on apps');
    await q.query('drop function app_versions_own');
    await q.query('alter table apps drop column change_seq, drop column desired_seq');
    await q.query('drop sequence app_versions');
  }
}
