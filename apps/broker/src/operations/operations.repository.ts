import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Operation, type OperationStep } from './operation.entity';

/** Steps as they were read from or written to the store: save() writes only the others. */
const stored = new WeakSet<OperationStep>();

const FIELDS = 'id, kind, app_id, user_id, state, steps, error, pending_nodes, dispatch, context, created_at, updated_at, finished_at';

interface OperationRow {
  id: string;
  kind: string;
  app_id: string | null;
  user_id: string | null;
  state: Operation['state'];
  steps: OperationStep[];
  error: string | null;
  pending_nodes: string[];
  dispatch: Operation['dispatch'];
  context: Operation['context'];
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

interface StepRow {
  operation_id: string;
  at: Date;
  node: string | null;
  text: string;
  considered: OperationStep['considered'] | null;
  passed_over: OperationStep['passedOver'] | null;
}

/** The operation of a row; its steps are the ones the column held (before migration OperationSteps) until read. */
function operationOf(r: OperationRow): Operation {
  for (const s of r.steps) stored.add(s);
  return Object.assign(new Operation(), {
    id: r.id,
    kind: r.kind,
    appId: r.app_id,
    userId: r.user_id,
    state: r.state,
    steps: r.steps,
    error: r.error,
    pendingNodes: r.pending_nodes,
    dispatch: r.dispatch,
    context: r.context,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    finishedAt: r.finished_at,
  });
}

const stepOf = (r: StepRow): OperationStep => {
  const step: OperationStep = { at: r.at.toISOString(), text: r.text };
  if (r.node !== null) step.node = r.node;
  if (r.considered !== null) step.considered = r.considered;
  if (r.passed_over !== null) step.passedOver = r.passed_over;
  stored.add(step);
  return step;
};

/**
 * Inserts the steps of `operation` (an SQL expression) as one statement's rows, in their order, given as the JSON parameter `$n`: a
 * common table expression to put before a statement about the operation itself, so that both take one round trip.
 */
const insertingSteps = (operation: string, n: number) => `inserted_steps as (
  insert into operation_steps (operation_id, at, node, text, considered, passed_over)
  select ${operation}, s.at, s.node, s.text, s.considered, s.passed_over
  from rows from (jsonb_to_recordset($${n}::jsonb) as (at timestamptz, node text, text text, considered jsonb, "passedOver" jsonb))
    with ordinality as s(at, node, text, considered, passed_over, n)
  order by s.n)`;

/**
 * Operations and their steps. An operation is one row; its steps (what happened, with every placement and the nodes
 * it considered) are rows of their own, only ever added to: the nodes' reports add a few each, and rewriting the
 * whole list for each of them was most of what Postgres did while apps were created.
 */
@Injectable()
export class OperationsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  async create(
    op: Pick<Operation, 'kind' | 'appId' | 'userId' | 'pendingNodes' | 'dispatch'> & { steps?: OperationStep[]; context?: Operation['context'] },
  ): Promise<Operation> {
    const steps = op.steps ?? [];
    const rows: OperationRow[] = await this.m.query(
      `with created as (
         insert into operations (kind, app_id, user_id, state, pending_nodes, dispatch, context)
         values ($1, $2, $3, 'queued', $4, $5, $6) returning ${FIELDS}
       ), ${insertingSteps('(select id from created)', 7)}
       select * from created`,
      [op.kind, op.appId, op.userId, op.pendingNodes, JSON.stringify(op.dispatch), JSON.stringify(op.context ?? {}), JSON.stringify(steps)],
    );
    for (const s of steps) stored.add(s);
    return Object.assign(operationOf(rows[0]), { steps });
  }

  async findById(id: string): Promise<Operation | null> {
    return (await this.read('where id = $1', [id]))[0] ?? null;
  }

  /**
   * Locks the row for the rest of the transaction, so that reports from several nodes apply one at a time. Without
   * `steps` (a node's report, which only adds to them), the operation comes with none read: save() adds the new ones.
   */
  async lock(id: string, { steps = true }: { steps?: boolean } = {}): Promise<Operation | null> {
    return (await this.read('where id = $1 for update', [id], steps))[0] ?? null;
  }

  /**
   * Writes an operation back, in one statement: the fields a change may set, and the steps not yet stored (those it
   * was read with stay as they are).
   */
  async save(op: Operation): Promise<void> {
    const added = op.steps.filter((s) => !stored.has(s));
    const params: unknown[] = [
      op.id,
      op.kind,
      op.appId,
      op.userId,
      op.state,
      op.error,
      op.pendingNodes,
      JSON.stringify(op.dispatch),
      JSON.stringify(op.context),
      op.finishedAt,
    ];
    if (added.length > 0) params.push(JSON.stringify(added));
    await this.m.query(
      `${added.length > 0 ? `with ${insertingSteps('$1::uuid', 11)}` : ''}
       update operations set kind = $2, app_id = $3, user_id = $4, state = $5, error = $6, pending_nodes = $7, dispatch = $8,
         context = $9, finished_at = $10, updated_at = now()
       where id = $1`,
      params,
    );
    for (const s of added) stored.add(s);
  }

  forApp(appId: string, limit: number): Promise<Operation[]> {
    return this.read('where app_id = $1 order by created_at desc limit $2', [appId, limit]);
  }

  async activeForApp(appId: string): Promise<Operation | null> {
    return (await this.read("where app_id = $1 and state in ('queued', 'running') order by created_at limit 1", [appId]))[0] ?? null;
  }

  /**
   * Operations that are not finished, without their steps: to dispatch again after a restart, to time out, or to fail
   * when their node is lost. The sweeper reads them every few seconds, and a thousand creates under way on a hundred
   * nodes hold tens of megabytes of steps (every placement, with each node considered).
   */
  unfinished(): Promise<Operation[]> {
    return this.read("where state in ('queued', 'running') order by created_at", [], false);
  }

  /** The operations of `kind` whose context has `value` under `key` (the moves a drain made), oldest first. */
  withContext(kind: string, key: string, value: string): Promise<Operation[]> {
    return this.read('where kind = $1 and context ->> $2 = $3 order by created_at', [kind, key, value]);
  }

  /** Apps with an operation under way, and (given `endedSince`) those whose last one ended after that moment. */
  async appsWithActiveOperations(endedSince?: Date): Promise<Set<string>> {
    const rows: { app_id: string }[] = endedSince
      ? // Two scans of the two partial indexes (active, and ended by time): with an OR, Postgres read every operation,
        // and every heartbeat asks (a millisecond at a thousand operations).
        await this.m.query(
          `select app_id from operations where state in ('queued', 'running') and app_id is not null
            union select app_id from operations where app_id is not null and finished_at > $1`,
          [endedSince],
        )
      : await this.m.query("select distinct app_id from operations where state in ('queued', 'running') and app_id is not null");
    return new Set(rows.map((r) => r.app_id));
  }

  /** The operations `rest` (a where clause, an order, a lock) selects, with their steps or (`steps` false) none. */
  private async read(rest: string, params: unknown[], steps = true): Promise<Operation[]> {
    const rows: OperationRow[] = await this.m.query(`select ${FIELDS} from operations ${rest}`, params);
    const ops = rows.map(operationOf);
    if (steps) return this.withSteps(ops);
    for (const op of ops) op.steps = [];
    return ops;
  }

  /**
   * Reads the steps of `ops`, in time order (steps of the same moment in the order they were added), after any their
   * column held.
   */
  private async withSteps(ops: Operation[]): Promise<Operation[]> {
    if (ops.length === 0) return ops;
    const rows: StepRow[] = await this.m.query(
      'select operation_id, at, node, text, considered, passed_over from operation_steps where operation_id = any($1) order by operation_id, at, id',
      [ops.map((op) => op.id)],
    );
    const byOperation = new Map<string, OperationStep[]>();
    for (const r of rows) {
      const list = byOperation.get(r.operation_id) ?? [];
      list.push(stepOf(r));
      byOperation.set(r.operation_id, list);
    }
    for (const op of ops) {
      const added = byOperation.get(op.id) ?? [];
      // Array.prototype.sort is stable: the column's steps stay before rows of the same moment.
      op.steps = op.steps.length === 0 ? added : [...op.steps, ...added].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    }
    return ops;
  }
}
