import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `placement_holds(lock, nodes, team, max_gears, max_memory_mb)`: takes the placement lock and checks that the gears
 * the calling transaction placed on `nodes` still fit them, as committed now by everyone else: each node is active,
 * not lost, within its memory and gear count; and the team within its quota when it has one. It fails with
 * serialization_failure (40001) naming what no longer holds, for the caller to place again under the lock from the
 * start.
 *
 * A create decides where its gears go from node usage read without the lock, writes its rows, and only then takes
 * the lock through this check, sent with its COMMIT as one query: the lock is held while Postgres runs the two,
 * never across a round trip to a busy broker. While nodes have room, the choices of creates made at the same time
 * all hold (each may be a little less spread than if it had waited for the others); near the limit, a check fails
 * and that create is placed again the careful way.
 */
export class PlacementCheck1733953500000 implements MigrationInterface {
  name = 'PlacementCheck1733953500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      create function placement_holds(lock_key bigint, node_ids uuid[], team uuid, max_gears integer, max_memory_mb integer)
      returns void language plpgsql volatile as $$
      declare
        broken text;
        used record;
      begin
        perform pg_advisory_xact_lock(lock_key);
        -- Each statement below sees what was committed before the lock was granted.
        select string_agg(n.name || case
            when n.state <> 'active' then ' is ' || n.state
            when n.lost_at is not null then ' is lost'
            when u.mb > n.memory_mb then ' has too little free memory'
            else ' runs its most gears' end, ', ' order by n.name)
          into broken
          from nodes n
          cross join lateral (select coalesce(sum(g.memory_mb), 0) as mb, count(*) as gears from gears g where g.node_id = n.id) u
          where n.id = any(node_ids)
            and (n.state <> 'active' or n.lost_at is not null or u.mb > n.memory_mb or u.gears > n.max_gears);
        if broken is null and (select count(*) from nodes where id = any(node_ids)) < cardinality(node_ids) then
          broken := 'a node has left';
        end if;
        if broken is null and team is not null and (max_gears is not null or max_memory_mb is not null) then
          select count(g.id) as gears, coalesce(sum(g.memory_mb), 0) as mb into used
            from gears g join apps a on a.id = g.app_id join domains d on d.id = a.domain_id where d.team_id = team;
          if used.gears > max_gears or used.mb > max_memory_mb then broken := 'the team is over its quota'; end if;
        end if;
        if broken is not null then
          raise exception 'the placement no longer holds: %', broken using errcode = 'serialization_failure';
        end if;
      end $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('drop function placement_holds(bigint, uuid[], uuid, integer, integer)');
  }
}
