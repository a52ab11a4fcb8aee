import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { Deployment } from './deployment.entity';

const LOG_LIMIT = 64 * 1024;

@Injectable()
export class DeploymentsRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  /** The next release number of an app; call under the app's operation (one deployment at a time). */
  async nextNumber(appId: string): Promise<number> {
    const rows = (await this.m.query('select coalesce(max(number), 0) + 1 as n from deployments where app_id = $1', [appId])) as { n: number }[];
    return Number(rows[0].n);
  }

  create(d: Partial<Deployment>): Promise<Deployment> {
    return this.m.save(this.m.create(Deployment, d));
  }

  /** How many deployments are in each state (for the metrics). */
  async countByState(): Promise<{ state: string; count: number }[]> {
    const rows = (await this.m.query('select state, count(*) as n from deployments group by state')) as { state: string; n: string }[];
    return rows.map((r) => ({ state: r.state, count: Number(r.n) }));
  }

  /** The numbers of an app's releases whose images were let go. */
  async prunedNumbers(appId: string): Promise<number[]> {
    return (await this.m.find(Deployment, { select: { number: true }, where: { appId, pruned: true } })).map((d) => d.number);
  }

  /** Every release image a deployment still keeps (not pruned): the running ones and those kept for rollback. */
  async keptImages(): Promise<string[]> {
    const rows = await this.m
      .createQueryBuilder(Deployment, 'd')
      .select('d.image', 'image')
      .where('d.image is not null')
      .andWhere('not d.pruned')
      .getRawMany<{ image: string }>();
    return rows.map((r) => r.image);
  }

  findById(id: string): Promise<Deployment | null> {
    return this.m.findOne(Deployment, { where: { id } });
  }

  findByIds(ids: string[]): Promise<Deployment[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.m.createQueryBuilder(Deployment, 'd').where('d.id in (:...ids)', { ids }).getMany();
  }

  forApp(appId: string, limit = 50): Promise<Deployment[]> {
    return this.m.find(Deployment, { where: { appId }, order: { number: 'DESC' }, take: limit });
  }

  async update(id: string, patch: Partial<Deployment>): Promise<void> {
    await this.m.update(Deployment, { id }, patch);
  }

  /** Appends build output, keeping the last 64 KB. */
  async appendLog(id: string, lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.m.query('update deployments set log = right(log || $2, $3) where id = $1', [id, `${lines.join('\n')}\n`, LOG_LIMIT]);
  }

  /**
   * Releases whose images can go: failed ones, and good ones past the newest `keep` (never the active one).
   */
  async prunable(appId: string, keep: number, activeId: string | null): Promise<Deployment[]> {
    const built = await this.m
      .createQueryBuilder(Deployment, 'd')
      .where('d.app_id = :appId and d.image is not null and d.pruned = false', { appId })
      .orderBy('d.number', 'DESC')
      .getMany();
    const failed = built.filter((d) => d.state === 'failed');
    const good = built.filter((d) => d.state !== 'failed');
    return [...failed, ...good.slice(keep)].filter((d) => d.id !== activeId);
  }
}
