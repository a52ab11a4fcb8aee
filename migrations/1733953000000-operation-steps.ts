import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An operation's steps as rows of their own. Kept in the operation's jsonb column, every node's report rewrote the
 * whole list (an app of ten replicas placed on a hundred nodes carries tens of kilobytes of placements, each node
 * considered): Postgres spent more time on that than on anything else while apps were created. A step is now one
 * insert. The column stays, read beside the rows: operations begun before this migration keep their steps there, and
 * a broker of the previous release, still running while the new one starts, goes on writing them there.
 */
export class OperationSteps1733953000000 implements MigrationInterface {
  name = 'OperationSteps1733953000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create table operation_steps (
        id bigserial primary key,
        operation_id uuid not null references operations (id) on delete cascade,
        at timestamptz not null,
        node text,
        text text not null,
        considered jsonb,
        passed_over jsonb
      )`);
    await q.query('create index operation_steps_operation_idx on operation_steps (operation_id, at, id)');
  }

  async down(q: QueryRunner): Promise<void> {
    // The rows go back into the column, after what it holds, in time order.
    await q.query(`
      update operations o set steps = (
        select jsonb_agg(s order by s ->> 'at' collate "C", n)
        from jsonb_array_elements(o.steps || (
          select jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
            'at', to_char(r.at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'node', r.node, 'text', r.text, 'considered', r.considered, 'passedOver', r.passed_over)) order by r.at, r.id)
          from operation_steps r where r.operation_id = o.id)) with ordinality t(s, n))
      where exists (select 1 from operation_steps r where r.operation_id = o.id)`);
    await q.query('drop table operation_steps');
  }
}
