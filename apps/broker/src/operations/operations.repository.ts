import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Operation, type OperationStep } from './operation.entity';

@Injectable()
export class OperationsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  create(
    op: Pick<Operation, 'kind' | 'appId' | 'userId' | 'pendingNodes' | 'dispatch'> & { steps?: OperationStep[]; context?: Operation['context'] },
  ): Promise<Operation> {
    return this.m.save(this.m.create(Operation, { ...op, state: 'queued', steps: op.steps ?? [] }));
  }

  findById(id: string): Promise<Operation | null> {
    return this.m.findOne(Operation, { where: { id } });
  }

  /** Locks the row for the rest of the transaction, so that reports from several nodes apply one at a time. */
  lock(id: string): Promise<Operation | null> {
    return this.m.createQueryBuilder(Operation, 'o').setLock('pessimistic_write').where('o.id = :id', { id }).getOne();
  }

  /**
   * Writes an operation that exists back, as one UPDATE of the fields a change may set: a save() would read the row
   * again and compare it field by field first, and an operation's steps (every placement with each node considered)
   * run to a hundred kilobytes with a hundred nodes, read and compared again for each node's report.
   */
  async save(op: Operation): Promise<void> {
    const { kind, appId, userId, state, steps, error, pendingNodes, dispatch, context, finishedAt } = op;
    const fields = { kind, appId, userId, state, steps, error, pendingNodes, dispatch, context, finishedAt };
    await this.m.update(Operation, { id: op.id }, fields as QueryDeepPartialEntity<Operation>);
  }

  /**
   * Locks the row as lock() does, and reads it without its steps: a node's report adds steps and reads none, while an
   * operation's steps (every placement with each node considered) run to a hundred kilobytes with a hundred nodes,
   * read and written again for each of the dozens of reports an app of many replicas gets. The operation comes with
   * no steps; saveAdding() puts the ones added to it among the stored ones.
   */
  async lockWithoutSteps(id: string): Promise<Operation | null> {
    const fields = ['id', 'kind', 'appId', 'userId', 'state', 'error', 'pendingNodes', 'dispatch', 'context', 'createdAt', 'updatedAt', 'finishedAt'];
    const op = await this.m
      .createQueryBuilder(Operation, 'o')
      .select(fields.map((f) => `o.${f}`))
      .setLock('pessimistic_write')
      .where('o.id = :id', { id })
      .getOne();
    if (op) op.steps = [];
    return op;
  }

  /**
   * Writes back an operation read by lockWithoutSteps, its steps being the ones added since: they go after the stored
   * steps, and all of them are put in time order (stable: steps of the same moment keep the order they came in) when
   * one of the added is older than the last stored.
   */
  async saveAdding(op: Operation, added: OperationStep[]): Promise<void> {
    const { kind, appId, userId, state, error, pendingNodes, dispatch, context, finishedAt } = op;
    const fields = { kind, appId, userId, state, error, pendingNodes, dispatch, context, finishedAt } as QueryDeepPartialEntity<Operation>;
    const inOrder = added.every((s, i) => i === 0 || added[i - 1].at <= s.at);
    const steps = `case when $inOrder and coalesce(steps -> -1 ->> 'at', '') collate "C" <= :first collate "C" then steps || cast(:added as jsonb)
      else (select jsonb_agg(s order by s ->> 'at' collate "C", n) from jsonb_array_elements(steps || cast(:added as jsonb)) with ordinality t(s, n)) end`;
    await this.m
      .createQueryBuilder()
      .update(Operation)
      .set(added.length > 0 ? { ...fields, steps: () => steps.replace('$inOrder', inOrder ? 'true' : 'false') } : fields)
      .where('id = :id', { id: op.id })
      .setParameters({ added: JSON.stringify(added), first: added[0]?.at ?? '' })
      .execute();
  }

  forApp(appId: string, limit: number): Promise<Operation[]> {
    return this.m.find(Operation, { where: { appId }, order: { createdAt: 'DESC' }, take: limit });
  }

  activeForApp(appId: string): Promise<Operation | null> {
    return this.m
      .createQueryBuilder(Operation, 'o')
      .where("o.app_id = :appId and o.state in ('queued', 'running')", { appId })
      .orderBy('o.created_at', 'ASC')
      .getOne();
  }

  /**
   * Operations that are not finished, without their steps: to dispatch again after a restart, to time out, or to fail
   * when their node is lost. The sweeper reads them every few seconds, and a thousand creates under way on a hundred
   * nodes hold tens of megabytes of steps (every placement, with each node considered).
   */
  async unfinished(): Promise<Operation[]> {
    const fields = ['id', 'kind', 'appId', 'userId', 'state', 'error', 'pendingNodes', 'dispatch', 'context', 'createdAt', 'updatedAt', 'finishedAt'];
    const ops = await this.m
      .createQueryBuilder(Operation, 'o')
      .select(fields.map((f) => `o.${f}`))
      .where("o.state in ('queued', 'running')")
      .orderBy('o.created_at', 'ASC')
      .getMany();
    for (const op of ops) op.steps = [];
    return ops;
  }

  /** The operations of `kind` whose context has `value` under `key` (the moves a drain made), oldest first. */
  withContext(kind: string, key: string, value: string): Promise<Operation[]> {
    return this.m
      .createQueryBuilder(Operation, 'o')
      .where('o.kind = :kind and o.context ->> :key = :value', { kind, key, value })
      .orderBy('o.created_at', 'ASC')
      .getMany();
  }

  /** Apps with an operation under way, and (given `endedSince`) those whose last one ended after that moment. */
  appsWithActiveOperations(endedSince?: Date): Promise<Set<string>> {
    const qb = this.m.createQueryBuilder(Operation, 'o').select('distinct o.app_id', 'app_id');
    if (endedSince) qb.where("o.app_id is not null and (o.state in ('queued', 'running') or o.finished_at > :endedSince)", { endedSince });
    else qb.where("o.state in ('queued', 'running') and o.app_id is not null");
    return qb.getRawMany().then((rows: { app_id: string }[]) => new Set(rows.map((r) => r.app_id)));
  }
}
