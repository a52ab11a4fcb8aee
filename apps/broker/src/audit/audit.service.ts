import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { isUuid } from '../common/uuid';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { Leadership } from '../leadership/leadership.service';
import type { User } from '../users/user.entity';
import { UsersRepository } from '../users/users.repository';
import { outcomeOf, type AuditDescription } from './actions';
import type { AuditEvent } from './audit-event.entity';
import { AuditDomains } from './audit-domains';
import { AuditRepository } from './audit.repository';
import { parseAuditQuery } from './query';

/** Who asked for a change: the user (if the call got as far as knowing), the token, the address. */
export interface AuditActor {
  user?: Pick<User, 'id' | 'username'> | null;
  /** The name tried at login, when there is no user. */
  username?: string | null;
  token?: { id: string; kind?: string; name?: string | null } | null;
  address: string | null;
}

const PRUNE_EVERY_MS = 3600_000;

/** An event as the API shows it. */
export function presentEvent(e: AuditEvent) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    user: e.actorUsername,
    token: e.tokenId ? { id: e.tokenId, kind: e.tokenKind, name: e.tokenName } : null,
    address: e.sourceAddress,
    action: e.action,
    target: e.target,
    domain: e.domain,
    status: e.statusCode,
    outcome: e.outcome,
    operationId: e.operationId,
    details: e.details,
  };
}

/** An address as people read it: an IPv4 client of a dual-stack socket without its `::ffff:` prefix. */
export const readableAddress = (address: string | undefined | null): string | null => (address ? address.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1') : null);

const tokenKey = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * The audit log: writes events after the answer has gone (a failed write is logged, never the caller's problem),
 * reads them back for those allowed to see them, and forgets them after GEARSHIFT_AUDIT_DAYS.
 */
@Injectable()
export class AuditService implements OnApplicationBootstrap {
  private readonly logger = new Logger('audit');
  /** Pushes in progress, by their token: the deployment their hook asks for is the pusher's, from the pusher's address. */
  private readonly pushes = new Map<string, { address: string | null; count: number }>();
  constructor(
    private readonly auditRepository: AuditRepository,
    private readonly usersRepository: UsersRepository,
    private readonly domains: AuditDomains,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
    private readonly leadership: Leadership,
  ) {}

  /** The leading broker prunes; the others would only delete the same rows again. */
  onApplicationBootstrap(): void {
    const prune = () => {
      this.prune().catch((err: Error) => this.logger.warn(`pruning the audit log failed: ${err.message}`));
    };
    this.leadership.whileLeader('audit pruner', () => {
      prune();
      const pruner = setInterval(prune, PRUNE_EVERY_MS);
      pruner.unref();
      return () => clearInterval(pruner);
    });
  }

  /** Records a described change answered `status`; `answer` is the body sent back (for the operation it started). */
  record(what: AuditDescription, actor: AuditActor, status: number, answer?: unknown): void {
    const reply = answer && typeof answer === 'object' ? (answer as Record<string, unknown>) : {};
    const operation = reply.operation && typeof reply.operation === 'object' ? (reply.operation as Record<string, unknown>).id : undefined;
    const details = { ...what.details };
    if (status >= 400 && typeof reply.code === 'string') details.error = reply.code;
    const event: Omit<AuditEvent, 'id' | 'at'> = {
      actorId: actor.user?.id ?? null,
      actorUsername: actor.user?.username ?? actor.username ?? null,
      tokenId: actor.token?.id ?? null,
      tokenKind: actor.token?.kind ?? null,
      tokenName: actor.token?.name ?? null,
      sourceAddress: actor.address,
      action: what.action,
      target: what.target?.slice(0, 300) ?? null,
      domain: what.domain?.slice(0, 300) ?? null,
      statusCode: status,
      outcome: outcomeOf(status),
      operationId: typeof operation === 'string' && isUuid(operation) ? operation : null,
      details,
    };
    // After the answer, off the request's path: the caller never waits for, nor fails with, the log.
    setImmediate(() => {
      this.write(event).catch((err: Error) => this.logger.error(`could not record ${event.action} by ${event.actorUsername ?? 'nobody'}: ${err.message}`));
    });
  }

  private async write(event: Omit<AuditEvent, 'id' | 'at'>): Promise<void> {
    // A login names its user only by the name tried; a real account's own log shows the attempts on it.
    if (!event.actorId && event.actorUsername && event.action.startsWith('session.login')) {
      event.actorId = (await this.usersRepository.findByName(event.actorUsername))?.id ?? null;
    }
    await this.auditRepository.insert(event);
  }

  /** The events `user` may read, newest first: all for an administrator, else their own and their domains'. */
  async list(user: User, query: Record<string, unknown>) {
    const q = parseAuditQuery(query);
    const visibleTo = user.isAdmin ? undefined : { userId: user.id, domains: await this.domains.visibleTo(user) };
    return (await this.auditRepository.find({ ...q, visibleTo })).map(presentEvent);
  }

  /**
   * Marks a `git push` in progress with `token` from `address`, until the returned function is called: the
   * deployment its hook then asks of the API (from the broker itself) is recorded from the pusher's address.
   */
  pushing(token: string, address: string | null): () => void {
    const key = tokenKey(token);
    const entry = this.pushes.get(key) ?? { address, count: 0 };
    entry.count += 1;
    this.pushes.set(key, entry);
    return () => {
      if (--entry.count <= 0) this.pushes.delete(key);
    };
  }

  /** The address of the push in progress with this token, if there is one. */
  pushAddress(token: string): string | null | undefined {
    return this.pushes.get(tokenKey(token))?.address;
  }

  private async prune(): Promise<void> {
    const removed = await this.auditRepository.prune(new Date(Date.now() - this.config.auditDays * 86_400_000));
    if (removed > 0) this.logger.log(`removed ${removed} audit events older than ${this.config.auditDays} days`);
  }
}
