import { Inject, Injectable } from '@nestjs/common';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { GearshiftError, conflict, invalid, notFound } from '../common/errors';
import { UsersRepository } from './users.repository';
import { hashPassword } from './password';
import { AuthService, type Session } from './auth.service';
import type { User } from './user.entity';

/** The rule every new password meets; the error names it. */
export const PASSWORD_MIN_LENGTH = 12;

function checkNewPassword(password: string, pointer: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) {
    throw invalid(pointer, 'minLength', `must be at least ${PASSWORD_MIN_LENGTH} characters long (a new password's rule)`);
  }
}

const view = (u: User) => ({ username: u.username, admin: u.isAdmin, disabled: u.disabled, createdAt: u.createdAt });

/** Users as administrators manage them (create, disable, reset a password, delete) and as each changes their own password. */
@Injectable()
export class AccountsService {
  constructor(
    private readonly users: UsersRepository,
    private readonly auth: AuthService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  async create(actor: User, body: { username: string; password: string; admin?: boolean }) {
    requireAdmin(actor, 'create users');
    checkNewPassword(body.password, '/password');
    const taken = (by = '') =>
      new GearshiftError('conflict', `the username "${body.username}" is taken${by}`, [{ pointer: '/username', rule: 'unique', message: 'is taken' }]);
    if (await this.users.findByName(body.username)) throw taken();
    const user = await this.users.create(
      { username: body.username, passwordHash: await hashPassword(body.password), isAdmin: body.admin ?? false },
      { maxGears: this.config.teamMaxGears, maxMemoryMb: this.config.teamMaxMemoryMb },
    );
    // Every user gets a team of their own (see UsersRepository.create); only a run of taken names stops that.
    if (!user) throw taken(' (teams hold that name and its -home forms)');
    return { username: user.username, admin: user.isAdmin, createdAt: user.createdAt };
  }

  /** Disables or enables a user, or resets their password; either way the user's tokens stop working. */
  async update(actor: User, username: string, change: { disabled?: boolean; password?: string }) {
    requireAdmin(actor, 'change users');
    const user = await this.find(username);
    if (change.password !== undefined) checkNewPassword(change.password, '/password');
    if (change.disabled === true && user.isAdmin && !user.disabled && (await this.users.countActiveAdmins()) <= 1) {
      throw conflict(`"${username}" is the last administrator who can log in; disabling them would lock everyone out`);
    }
    await this.users.update(user.id, {
      ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
      ...(change.password !== undefined ? { passwordHash: await hashPassword(change.password) } : {}),
    });
    // A reset password or a disabled account: whoever held its tokens holds them no longer.
    if (change.password !== undefined || change.disabled === true) await this.users.deleteTokensExcept(user.id);
    return view({ ...user, disabled: change.disabled ?? user.disabled });
  }

  async delete(actor: User, username: string): Promise<void> {
    requireAdmin(actor, 'delete users');
    const user = await this.find(username);
    if (user.isAdmin && !user.disabled && (await this.users.countActiveAdmins()) <= 1) {
      throw conflict(`"${username}" is the last administrator; the platform needs one`);
    }
    const domains = await this.users.ownedDomains(user.id);
    if (domains.length > 0) {
      throw conflict(`"${username}" still owns domains (${domains.join(', ')}); delete them first`);
    }
    const teams = await this.users.soleOwnerOf(user.id);
    if (teams.length > 0) {
      throw conflict(`"${username}" is the only owner of team(s) ${teams.join(', ')}; make another member owner first`);
    }
    await this.users.delete(user.id);
  }

  /**
   * The caller's own password; every other token of theirs is revoked, the one this call came with is kept. A wrong
   * current password counts as a failed login: a stolen token is no way around the login rate limit.
   */
  async changeOwnPassword(session: Session, body: { current: string; password: string }, address: string): Promise<void> {
    if (!(await this.auth.checkPassword(session.user, body.current, address))) {
      throw new GearshiftError('forbidden', 'the current password is wrong', [
        { pointer: '/current', rule: 'matches', message: 'is not your current password' },
      ]);
    }
    checkNewPassword(body.password, '/password');
    await this.users.update(session.user.id, { passwordHash: await hashPassword(body.password) });
    await this.users.deleteTokensExcept(session.user.id, session.tokenId);
  }

  private async find(username: string): Promise<User> {
    const user = await this.users.findByName(username);
    if (!user) throw notFound(`the user "${username}"`);
    return user;
  }
}

function requireAdmin(actor: User, what: string): void {
  if (!actor.isAdmin) throw new GearshiftError('forbidden', `only an administrator can ${what}`);
}
