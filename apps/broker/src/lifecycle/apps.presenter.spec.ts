import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { App } from '../apps/app.entity';
import { statusOf } from './apps.presenter';

type Shown = Parameters<typeof statusOf>[0];
const gear = (cartridge: string, state: string) => ({ cartridge, state }) as unknown as NonNullable<App['gears']>[number];
const row = (cartridge: string, supersededBy: string | null = null) => ({ cartridge, supersededBy }) as unknown as NonNullable<App['cartridges']>[number];
const app = (over: Partial<Shown>): Shown => ({ desiredState: 'started', degraded: null, gears: [], cartridges: [], ...over });

describe('app status', () => {
  it('is running when every gear runs, starting while one does not yet', () => {
    const cartridges = [row('nodejs-24'), row('postgresql-15')];
    assert.equal(statusOf(app({ cartridges, gears: [gear('nodejs-24', 'running'), gear('postgresql-15', 'running')] })), 'running');
    assert.equal(statusOf(app({ cartridges, gears: [gear('nodejs-24', 'starting'), gear('postgresql-15', 'running')] })), 'starting');
  });

  it('is upgraded, not starting, while an upgrade keeps the old database stopped for its confirmation', () => {
    const cartridges = [row('nodejs-24'), row('postgresql-15', 'postgresql-17'), row('postgresql-17')];
    const gears = [gear('nodejs-24', 'running'), gear('postgresql-15', 'stopped'), gear('postgresql-17', 'running')];
    assert.equal(statusOf(app({ cartridges, gears })), 'upgraded');
    assert.equal(statusOf(app({ cartridges, gears: [...gears.slice(0, 2), gear('postgresql-17', 'starting')] })), 'starting');
  });
});
