import { Injectable } from '@nestjs/common';
import { notFound } from '../common/errors';
import { randomToken } from '../common/random-token';
import { isUuid } from '../common/uuid';
import { UsersRepository } from './users.repository';
import { tokenHash } from './password';
import type { Scope } from './scopes';
import type { User } from './user.entity';

const DAY_MS = 24 * 3600 * 1000;
export const DEFAULT_TOKEN_DAYS = 30;

/** Personal access tokens: named, scoped, expiring; the token itself is shown once and kept only as its hash. */
@Injectable()
export class TokensService {
  constructor(private readonly users: UsersRepository) {}

  async list(user: User) {
    return (await this.users.personalTokens(user.id)).map((t) => ({
      id: t.id,
      name: t.name,
      scopes: t.scopes,
      createdAt: t.createdAt,
      expiresAt: t.expiresAt,
      lastUsedAt: t.lastUsedAt,
    }));
  }

  async create(user: User, body: { name: string; scopes: Scope[]; expiresInDays?: number }) {
    const token = randomToken('gsp');
    const expiresAt = new Date(Date.now() + (body.expiresInDays ?? DEFAULT_TOKEN_DAYS) * DAY_MS);
    const scopes = [...new Set(body.scopes)];
    const row = await this.users.addToken({ userId: user.id, tokenHash: tokenHash(token), expiresAt, kind: 'personal', name: body.name, scopes });
    return { id: row.id, name: body.name, scopes, expiresAt, token };
  }

  /** Revokes one of the caller's tokens (a personal one, or a login of theirs): its next use is a 401. */
  async revoke(user: User, id: string): Promise<void> {
    if (!isUuid(id) || !(await this.users.deleteToken(user.id, id))) throw notFound(`the token ${id}`);
  }
}
