import type { EntityManager, EntityMetadata, ObjectLiteral, ValueTransformer } from 'typeorm';

/** An entity read in plain SQL: the columns to select, and the entity a row of them is. */
export interface EntityRows<E> {
  /** Every column a find would select, under the query's alias: `a.id, a.domain_id, …`. */
  readonly fields: string;
  /** The entity of one row, each value through its column's transformer as a find passes it. */
  of(row: Record<string, unknown>): E;
}

/** A value read from Postgres as TypeORM gives it to the entity: a list of transformers applies from the last. */
const fromDatabase = (transformer: ValueTransformer | ValueTransformer[] | undefined, value: unknown): unknown =>
  transformer === undefined ? value : Array.isArray(transformer) ? transformer.reduceRight((v, t) => t.from(v), value) : transformer.from(value);

/** Worked out once per entity and alias: repositories are made anew for every transaction. */
const made = new WeakMap<EntityMetadata, Map<string, EntityRows<ObjectLiteral>>>();

/**
 * Reads of `target` in plain SQL, from its TypeORM metadata: the hot reads of apps, cartridges, gears and nodes,
 * where building the statement and the entities took TypeORM's find longer than Postgres took to answer. A column
 * added to the entity is read with the others; columns a find leaves out (`select: false`) stay out.
 */
export function entityRows<E extends ObjectLiteral>(m: EntityManager, target: new () => E, alias: string): EntityRows<E> {
  const metadata = m.connection.getMetadata(target);
  let byAlias = made.get(metadata);
  if (!byAlias) made.set(metadata, (byAlias = new Map()));
  let rows = byAlias.get(alias);
  if (!rows) byAlias.set(alias, (rows = rowsOf(metadata, target, alias)));
  return rows as EntityRows<E>;
}

function rowsOf<E extends ObjectLiteral>(metadata: EntityMetadata, target: new () => E, alias: string): EntityRows<E> {
  const columns = metadata.columns
    // A relation's join column without a property of its own (`app` of a gear) is not read; `appId` beside it is.
    .filter((c) => c.isSelect && c.relationMetadata?.propertyName !== c.propertyName)
    .map((c) => ({ name: c.databaseName, property: c.propertyName, transformer: c.transformer }));
  return {
    fields: columns.map((c) => `${alias}.${c.name}`).join(', '),
    of: (row) => {
      const entity = new target() as Record<string, unknown>;
      for (const c of columns) entity[c.property] = fromDatabase(c.transformer, row[c.name]);
      return entity as E;
    },
  };
}
