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

  /** Operations that are not finished: to dispatch again after a restart, or to time out. */
  unfinished(): Promise<Operation[]> {
    return this.m.createQueryBuilder(Operation, 'o').where("o.state in ('queued', 'running')").orderBy('o.created_at', 'ASC').getMany();
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
