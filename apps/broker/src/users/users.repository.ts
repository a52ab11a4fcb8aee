import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import { In, type EntityManager } from 'typeorm';
import { ApiToken, User } from './user.entity';

export type NewToken = Pick<ApiToken, 'userId' | 'tokenHash' | 'expiresAt' | 'kind' | 'name' | 'scopes'>;

@Injectable()
export class UsersRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  findById(id: string): Promise<User | null> {
    return this.m.findOne(User, { where: { id } });
  }

  findByName(username: string): Promise<User | null> {
    return this.m.findOne(User, { where: { username } });
  }

  /** The names of the users with these ids (a user deleted since is absent). */
  async namesById(ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const users = await this.m.find(User, { where: { id: In([...new Set(ids)]) }, select: { id: true, username: true } });
    return new Map(users.map((u) => [u.id, u.username]));
  }

  count(): Promise<number> {
    return this.m.count(User);
  }

  /** Administrators who can still log in: the last of them is not to be disabled, demoted or deleted. */
  countActiveAdmins(): Promise<number> {
    return this.m.count(User, { where: { isAdmin: true, disabled: false } });
  }

  /**
   * Creates the user with their personal team (named as the user, the user its owner, with the quota a new team
   * starts with); null when a team already has that name.
   */
  create(user: Pick<User, 'username' | 'passwordHash' | 'isAdmin'>, quota: { maxGears: number | null; maxMemoryMb: number | null }): Promise<User | null> {
    return this.m.transaction(async (t) => {
      const created = await t.save(t.create(User, user));
      // The user's own team is named as the user; when a team already has that name (anyone may make a team), it is
      // the name with "-home", which no team made through the API can have (team names have no hyphen).
      const names = [created.username, `${created.username}-home`, ...[2, 3, 4, 5].map((n) => `${created.username}-home-${n}`)];
      for (const name of names) {
        const team: { id: string }[] = await t.query(
          'insert into teams (name, personal_user_id, max_gears, max_memory_mb) values ($1, $2, $3, $4) on conflict (name) do nothing returning id',
          [name, created.id, quota.maxGears, quota.maxMemoryMb],
        );
        if (team.length === 0) continue;
        await t.query(`insert into team_members (team_id, user_id, role) values ($1, $2, 'owner')`, [team[0].id, created.id]);
        return created;
      }
      await t.delete(User, { id: created.id });
      return null;
    });
  }

  async update(userId: string, change: Partial<Pick<User, 'passwordHash' | 'disabled'>>): Promise<void> {
    await this.m.update(User, { id: userId }, change);
  }

  /**
   * Domains of the user's personal team; a user whose team holds any is not deleted (their apps would be left without
   * an owner). The personal team goes with the user.
   */
  async ownedDomains(userId: string): Promise<string[]> {
    const rows: { name: string }[] = await this.m.query(
      'select d.name from domains d join teams t on t.id = d.team_id where t.personal_user_id = $1 order by d.name',
      [userId],
    );
    return rows.map((r) => r.name);
  }

  /** Teams (other than their own) of which the user is the only owner: without them, nobody but an admin could manage those. */
  async soleOwnerOf(userId: string): Promise<string[]> {
    const rows: { name: string }[] = await this.m.query(
      `select t.name from teams t join team_members m on m.team_id = t.id and m.user_id = $1 and m.role = 'owner'
        where t.personal_user_id is distinct from $1
          and not exists (select 1 from team_members o where o.team_id = t.id and o.role = 'owner' and o.user_id <> $1)
        order by t.name`,
      [userId],
    );
    return rows.map((r) => r.name);
  }

  /** Deletes the user; their tokens, memberships and own team go with them (on delete cascade). */
  async delete(userId: string): Promise<void> {
    await this.m.delete(User, { id: userId });
  }

  async addToken(token: NewToken): Promise<ApiToken> {
    return this.m.save(this.m.create(ApiToken, token));
  }

  /** The token with this hash, if it is unexpired and its user is not disabled. */
  async findLiveToken(tokenHash: string): Promise<ApiToken | null> {
    return this.m
      .createQueryBuilder(ApiToken, 't')
      .innerJoinAndSelect('t.user', 'u')
      .where('t.token_hash = :tokenHash and t.expires_at > now() and not u.disabled', { tokenHash })
      .getOne();
  }

  /** Marks a token used; at most once a minute, so that reading does not write on every call. */
  async touchToken(tokenId: string): Promise<void> {
    await this.m.query(`update api_tokens set last_used_at = now() where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')`, [
      tokenId,
    ]);
  }

  personalTokens(userId: string): Promise<ApiToken[]> {
    return this.m.find(ApiToken, { where: { userId, kind: 'personal' }, order: { createdAt: 'ASC' } });
  }

  /** Deletes one of the user's tokens; false when the user has no token with that id. */
  async deleteToken(userId: string, tokenId: string): Promise<boolean> {
    const result = await this.m.delete(ApiToken, { id: tokenId, userId });
    return (result.affected ?? 0) > 0;
  }

  /** Deletes every token of the user but `keep` (the caller's own, after a password change). */
  async deleteTokensExcept(userId: string, keep?: string): Promise<void> {
    const q = this.m.createQueryBuilder().delete().from(ApiToken).where('user_id = :userId', { userId });
    if (keep) q.andWhere('id <> :keep', { keep });
    await q.execute();
  }
}
