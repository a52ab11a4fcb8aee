import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import IORedis from 'ioredis';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { randomToken } from '../common/random-token';
import { GearshiftError } from '../common/errors';
import { UsersRepository } from './users.repository';
import { hashPassword, tokenHash, verifyPassword } from './password';
import { SharedLoginWindow, type CountedFailure } from './shared-login-window';
import type { User } from './user.entity';

const TOKEN_TTL_MS = 30 * 24 * 3600 * 1000;

/** Failed logins allowed per user name from one client address within a minute; the next one is answered 429. */
export const LOGIN_LIMIT = 10;
/**
 * Failed logins allowed per user name within a minute, whatever the addresses: far above one address's, so that a
 * stranger's wrong passwords do not lock the user out of logging in from where they are, and still a ceiling for a
 * guess spread over many addresses.
 */
export const LOGIN_USER_LIMIT = 10 * LOGIN_LIMIT;
/**
 * Failed logins allowed per client address within a minute, whatever the names: looser than a name's, so that wrong
 * passwords for one user do not lock the other users behind the same address out, and still a ceiling for a client
 * that tries one password on many names.
 */
export const LOGIN_ADDRESS_LIMIT = 3 * LOGIN_LIMIT;
const LOGIN_WINDOW_MS = 60_000;
/** Keys each window remembers at most: a flood of made-up names costs bounded memory. */
const LOGIN_WINDOW_KEYS = 10_000;

/** One login attempt as counted in each window: what takes it back when it succeeds. */
interface LoginAttempt {
  atAddress: CountedFailure;
  user: CountedFailure;
  from: CountedFailure;
}

/** Who a request is: the user, and the token it came with and what that token may do. */
export interface Session {
  user: User;
  tokenId: string;
  scopes: string[];
  /** `login` or `personal`, and a personal token's name: for the audit log. */
  tokenKind?: string;
  tokenName?: string | null;
}

@Injectable()
export class AuthService implements OnModuleDestroy {
  private readonly logger = new Logger('auth');
  /** Failed logins are counted across brokers in Redis; a command that finds Redis away fails at once (local count). */
  private readonly redis: IORedis;
  private readonly byUserAtAddress: SharedLoginWindow;
  private readonly byUser: SharedLoginWindow;
  private readonly byAddress: SharedLoginWindow;
  /** A hash of nothing, of the same cost as real ones: an unknown user name takes as long to refuse as a known one. */
  private dummyHash?: Promise<string>;

  constructor(
    private readonly usersRepository: UsersRepository,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {
    this.redis = new IORedis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1000 });
    this.redis.on('error', () => undefined);
    this.byUserAtAddress = new SharedLoginWindow(this.redis, `${config.instance}:login:user-address`, LOGIN_LIMIT, LOGIN_WINDOW_MS, LOGIN_WINDOW_KEYS);
    this.byUser = new SharedLoginWindow(this.redis, `${config.instance}:login:user`, LOGIN_USER_LIMIT, LOGIN_WINDOW_MS, LOGIN_WINDOW_KEYS);
    this.byAddress = new SharedLoginWindow(this.redis, `${config.instance}:login:address`, LOGIN_ADDRESS_LIMIT, LOGIN_WINDOW_MS, LOGIN_WINDOW_KEYS);
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }

  /**
   * Counts an attempt as failed up front for the user name at the address, the user name and the address, or refuses
   * it with 429 and Retry-After (counting nothing) while any has too many recent failures. An attempt that succeeds
   * is taken back.
   */
  private async countAttempt(username: string, address: string): Promise<LoginAttempt> {
    const windows: [SharedLoginWindow, string][] = [
      [this.byUserAtAddress, JSON.stringify([username, address])],
      [this.byUser, username],
      [this.byAddress, address],
    ];
    const counted = await Promise.all(windows.map(([window, key]) => window.attempt(key)));
    const wait = Math.max(...counted.map((c) => c.wait));
    if (wait > 0 || counted.some((c) => !c.failure)) {
      await Promise.all(counted.flatMap((c, i) => (c.failure ? [windows[i][0].undo(c.failure)] : [])));
      throw new GearshiftError('too_many_requests', `too many failed logins; try again in ${wait} s`, [], { 'Retry-After': String(wait) });
    }
    const [atAddress, user, from] = counted.map((c) => c.failure!);
    return { atAddress, user, from };
  }

  /** Takes back an attempt counted up front that succeeded; `forget` also forgets the earlier failures at the address. */
  private async succeeded(attempt: LoginAttempt, forget: boolean): Promise<void> {
    await Promise.all([
      forget ? this.byUserAtAddress.clear(attempt.atAddress.key) : this.byUserAtAddress.undo(attempt.atAddress),
      // Strangers' failures for the name stay counted: the user's own login does not reopen a distributed guess.
      this.byUser.undo(attempt.user),
      this.byAddress.undo(attempt.from),
    ]);
  }

  /**
   * Whether `password` is the user's, for a password change: a wrong one counts against the same windows as a failed
   * login, and past the limit the answer is 429 whatever the password.
   */
  async checkPassword(user: User, password: string, address: string): Promise<boolean> {
    const counted = await this.countAttempt(user.username, address);
    if (!(await verifyPassword(password, user.passwordHash))) return false;
    await this.succeeded(counted, false);
    return true;
  }

  async login(username: string, password: string, address: string): Promise<{ token: string; expiresAt: string; username: string }> {
    // Counted as failed before the password is checked, and taken back if it matches: attempts sent all at once
    // fill the window as surely as attempts sent one after another.
    const counted = await this.countAttempt(username, address);
    const user = await this.usersRepository.findByName(username);
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    const matches = await verifyPassword(password, user?.passwordHash ?? (await this.dummyHash));
    // A disabled user is refused exactly as a wrong password is: the answer does not tell which.
    if (!user || !matches || user.disabled) throw new GearshiftError('unauthorized', 'wrong username or password');
    await this.succeeded(counted, true);
    const token = randomToken('gst');
    const expiresAt = new Date(Date.now() + TOKEN_TTL_MS);
    await this.usersRepository.addToken({ userId: user.id, tokenHash: tokenHash(token), expiresAt, kind: 'login', name: null, scopes: ['admin'] });
    return { token, expiresAt: expiresAt.toISOString(), username: user.username };
  }

  /** Revokes the token the call came with. */
  async logout(session: Session): Promise<void> {
    await this.usersRepository.deleteToken(session.user.id, session.tokenId);
  }

  async authenticate(header: string | undefined): Promise<Session> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match) throw new GearshiftError('unauthorized', 'this call needs an Authorization: Bearer <token> header');
    const token = await this.usersRepository.findLiveToken(tokenHash(match[1]));
    if (!token) throw new GearshiftError('unauthorized', 'the token is unknown, revoked or expired; log in again');
    // Marked used at most once a minute (touchToken): a token used moments ago costs its call no write.
    if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() >= 60_000) await this.usersRepository.touchToken(token.id);
    return { user: token.user, tokenId: token.id, scopes: token.scopes, tokenKind: token.kind, tokenName: token.name };
  }

  /**
   * On the first start, creates `admin` with GEARSHIFT_ADMIN_PASSWORD, or with a generated password that is printed
   * once and kept (mode 0600) in the data directory.
   */
  async ensureAdmin(): Promise<void> {
    if ((await this.usersRepository.count()) > 0) return;
    let password = this.config.adminPassword;
    if (!password) {
      const file = join(this.config.dataDir, 'admin-password');
      mkdirSync(this.config.dataDir, { recursive: true });
      // A password kept from an earlier first start (whose database is gone) is the one its reader expects.
      if (existsSync(file)) password = readFileSync(file, 'utf8').trim();
      if (!password) {
        password = randomBytes(18).toString('base64url');
        writeFileSync(file, `${password}\n`, { mode: 0o600 });
      }
      chmodSync(file, 0o600);
      // Never the password itself: logs are read by more eyes than the file, which is root's alone.
      this.logger.log(`created user admin with a generated password, kept in ${file} (readable by root only)`);
    } else {
      this.logger.log('created user admin with the password from GEARSHIFT_ADMIN_PASSWORD');
    }
    const admin = await this.usersRepository.create(
      { username: 'admin', passwordHash: await hashPassword(password), isAdmin: true },
      { maxGears: this.config.teamMaxGears, maxMemoryMb: this.config.teamMaxMemoryMb },
    );
    if (!admin) throw new Error('a team named "admin" exists although no user does; the database is not a Gearshift one');
  }
}
