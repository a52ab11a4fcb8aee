import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BrokerConfig } from '../config';
import { GearshiftError } from '../common/errors';
import { AuthService, LOGIN_LIMIT, LOGIN_USER_LIMIT } from './auth.service';
import { hashPassword } from './password';
import type { User } from './user.entity';
import type { UsersRepository } from './users.repository';

/**
 * The login windows with the counts of this broker alone: the Redis URL names a port where nothing listens, and a
 * command that finds Redis away fails at once (the broker's own count then decides, as it does in production).
 */
describe('failed logins', { timeout: 120_000 }, () => {
  let auth: AuthService;

  before(async () => {
    const henry = { id: 'u1', username: 'henry', passwordHash: await hashPassword('henry password'), disabled: false } as User;
    const users = {
      findByName: async (name: string) => (name === henry.username ? henry : null),
      addToken: async () => ({}),
    } as unknown as UsersRepository;
    auth = new AuthService(users, { redisUrl: 'redis://127.0.0.1:1', instance: 'spec' } as BrokerConfig);
  });
  after(() => auth.onModuleDestroy());

  const status = async (username: string, password: string, address: string): Promise<number | string> => {
    try {
      await auth.login(username, password, address);
      return 200;
    } catch (err) {
      if (!(err instanceof GearshiftError)) throw err;
      return err.code === 'too_many_requests' ? `429 after ${err.headers['Retry-After']}` : 401;
    }
  };

  it("lets a stranger's wrong passwords hold back only the stranger's address, not the user logging in from theirs", async () => {
    for (let i = 0; i < LOGIN_LIMIT; i++) assert.equal(await status('henry', 'guess', '203.0.113.9'), 401, `attempt ${i + 1}`);
    assert.match(String(await status('henry', 'henry password', '203.0.113.9')), /^429 after [1-9][0-9]?$/);
    assert.equal(await status('henry', 'henry password', '198.51.100.1'), 200);
  });

  it('still slows a guess spread over many addresses, past a far higher ceiling for the name', async () => {
    // The stranger's ten failures above count for the name as well.
    for (let i = LOGIN_LIMIT; i < LOGIN_USER_LIMIT; i++) assert.equal(await status('henry', 'guess', `192.0.2.${i}`), 401, `attempt ${i + 1}`);
    assert.match(String(await status('henry', 'henry password', '198.51.100.2')), /^429 after [1-9][0-9]?$/);
    // Other names are not held back.
    assert.equal(await status('irene', 'guess', '198.51.100.2'), 401);
  });
});
