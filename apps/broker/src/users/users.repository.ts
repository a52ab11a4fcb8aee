import { Injectable } from '@nestjs/common';
import { InjectEntityManager } from '@nestjs/typeorm';
import type { EntityManager } from 'typeorm';
import { ApiToken, User } from './user.entity';

@Injectable()
export class UsersRepository {
  constructor(@InjectEntityManager() private readonly m: EntityManager) {}

  findByName(username: string): Promise<User | null> {
    return this.m.findOne(User, { where: { username } });
  }

  count(): Promise<number> {
    return this.m.count(User);
  }

  create(user: Pick<User, 'username' | 'passwordHash' | 'isAdmin'>): Promise<User> {
    return this.m.save(this.m.create(User, user));
  }

  async addToken(userId: string, tokenHash: string, expiresAt: Date): Promise<void> {
    await this.m.insert(ApiToken, { userId, tokenHash, expiresAt });
  }

  async userForToken(tokenHash: string): Promise<User | null> {
    const row = await this.m
      .createQueryBuilder(ApiToken, 't')
      .innerJoinAndSelect('t.user', 'u')
      .where('t.token_hash = :tokenHash and t.expires_at > now()', { tokenHash })
      .getOne();
    return row?.user ?? null;
  }
}
