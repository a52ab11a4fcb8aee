import { Inject, Injectable, Logger } from '@nestjs/common';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { randomToken } from '../common/random-token';
import { GearshiftError } from '../common/errors';
import { UsersRepository } from './users.repository';
import { hashPassword, tokenHash, verifyPassword } from './password';
import type { User } from './user.entity';

const TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;

@Injectable()
export class AuthService {
  private readonly logger = new Logger('auth');

  constructor(
    private readonly usersRepository: UsersRepository,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async login(username: string, password: string): Promise<{ token: string; expiresAt: string; username: string }> {
    const user = await this.usersRepository.findByName(username);
    if (!user || !(await verifyPassword(password, user.passwordHash))) {
      throw new GearshiftError('unauthorized', 'wrong username or password');
    }
    const token = randomToken('gst');
    const expiresAt = new Date(Date.now() + TOKEN_TTL_MS);
    await this.usersRepository.addToken(user.id, tokenHash(token), expiresAt);
    return { token, expiresAt: expiresAt.toISOString(), username: user.username };
  }

  async createUser(actor: User, body: { username: string; password: string; admin?: boolean }) {
    if (!actor.isAdmin) throw new GearshiftError('forbidden', 'only an administrator can create users');
    if (await this.usersRepository.findByName(body.username)) {
      throw new GearshiftError('conflict', `the username "${body.username}" is taken`, [{ pointer: '/username', rule: 'unique', message: 'is taken' }]);
    }
    const user = await this.usersRepository.create({ username: body.username, passwordHash: await hashPassword(body.password), isAdmin: body.admin ?? false });
    return { username: user.username, admin: user.isAdmin, createdAt: user.createdAt };
  }

  async authenticate(header: string | undefined): Promise<User> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match) throw new GearshiftError('unauthorized', 'this call needs an Authorization: Bearer <token> header');
    const user = await this.usersRepository.userForToken(tokenHash(match[1]));
    if (!user) throw new GearshiftError('unauthorized', 'the token is unknown or has expired; log in again');
    return user;
  }

  /**
   * On the first start, creates `admin` with GEARSHIFT_ADMIN_PASSWORD, or with a generated password that is printed
   * once and kept (mode 0600) in the data directory.
   */
  async ensureAdmin(): Promise<void> {
    if ((await this.usersRepository.count()) > 0) return;
    let password = this.config.adminPassword;
    if (!password) {
      password = randomBytes(18).toString('base64url');
      const file = join(this.config.dataDir, 'admin-password');
      mkdirSync(this.config.dataDir, { recursive: true });
      if (!existsSync(file)) writeFileSync(file, `${password}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      this.logger.log(`created user admin with a generated password (also kept in ${file}): ${password}`);
    } else {
      this.logger.log('created user admin with the password from GEARSHIFT_ADMIN_PASSWORD');
    }
    await this.usersRepository.create({ username: 'admin', passwordHash: await hashPassword(password), isAdmin: true });
  }
}
