import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { AuditEvent } from './audit-event.entity';
import type { VisibleDomain } from './audit-domains';
import type { AuditQuery } from './query';

/** An audit query, and for anyone but an administrator: their own events and those on these domains. */
export interface AuditFilter extends AuditQuery {
  visibleTo?: { userId: string; domains: VisibleDomain[] };
}

@Injectable()
export class AuditRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  async insert(event: Omit<AuditEvent, 'id' | 'at'>): Promise<void> {
    // details is free-form JSON, which TypeORM's deep-partial type cannot follow.
    await this.m.insert(AuditEvent, event as QueryDeepPartialEntity<AuditEvent>);
  }

  /** Newest first. */
  find(f: AuditFilter): Promise<AuditEvent[]> {
    const q = this.m.createQueryBuilder(AuditEvent, 'e').orderBy('e.at', 'DESC').addOrderBy('e.id', 'DESC').limit(f.limit);
    if (f.since) q.andWhere('e.at >= :since', { since: f.since });
    if (f.until) q.andWhere('e.at <= :until', { until: f.until });
    if (f.username) q.andWhere('e.actor_username = :username', { username: f.username });
    if (f.domain) q.andWhere('e.domain = :domain', { domain: f.domain });
    if (f.action) q.andWhere("(e.action = :action or left(e.action, length(:action) + 1) = :action || '.')", { action: f.action });
    if (f.visibleTo) {
      q.andWhere(
        `(e.actor_id = :me or exists (
          select 1 from unnest(cast(:names as text[]), cast(:sinces as timestamptz[])) as v(name, since)
          where v.name = e.domain and e.at >= v.since))`,
        { me: f.visibleTo.userId, names: f.visibleTo.domains.map((d) => d.name), sinces: f.visibleTo.domains.map((d) => d.since.toISOString()) },
      );
    }
    return q.getMany();
  }

  /** Removes the events older than `before`; how many went. */
  async prune(before: Date): Promise<number> {
    const res = await this.m.createQueryBuilder().delete().from(AuditEvent).where('at < :before', { before }).execute();
    return res.affected ?? 0;
  }
}
