import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { UnitOfWork } from '../database/unit-of-work';
import type { App } from '../apps/app.entity';
import type { Operation } from '../operations/operation.entity';
import type { OperationsService } from '../operations/operations.service';
import type { RoutesService } from '../routes/routes.service';
import { AppBusyError, ChangeRunner } from './change-runner';

const app = { id: 'a1', name: 'shop', gears: [] } as unknown as App;
const op = (id: string, kind = 'app.env') => ({ id, kind }) as Operation;

/** A runner over fakes: `active` is the operation the app runs already, if any. */
function runner(active: Operation | null) {
  const calls: string[] = [];
  const uow = {
    run: async (_classes: unknown, work: (repos: unknown) => Promise<unknown>, lock?: string) => {
      calls.push(`transaction${lock ? ` under ${lock}` : ''}`);
      return work({ operations: { activeForApp: async () => active } });
    },
  } as unknown as UnitOfWork;
  const operations = {
    dispatch: async (o: Operation) => void calls.push(`dispatch ${o.id}`),
    wait: async (o: Operation, s: number) => (calls.push(`wait ${o.id} ${s}s`), { ...o, state: 'succeeded' }),
  } as unknown as OperationsService;
  const routes = { schedule: () => void calls.push('routes') } as unknown as RoutesService;
  return { changes: new ChangeRunner(uow, operations, routes), calls };
}

describe('change runner', () => {
  it('records the change while the app is free, under the lock asked for', async () => {
    const { changes, calls } = runner(null);
    const made = await changes.begin(app, async () => op('o2'), { lock: 'placement' });
    assert.equal(made.id, 'o2');
    assert.deepEqual(calls, ['transaction under placement']);
  });

  it('refuses a change while another operation of the app runs, naming it, and records nothing', async () => {
    const { changes } = runner(op('o1', 'app.deploy'));
    let worked = false;
    await assert.rejects(
      changes.begin(app, async () => ((worked = true), op('o2')), { busyHint: 'one deployment runs at a time, try again when it ends' }),
      (err: unknown) => {
        assert.ok(err instanceof AppBusyError);
        assert.equal(err.code, 'conflict');
        assert.equal(err.message, 'app "shop" is busy with operation o1 (app.deploy); one deployment runs at a time, try again when it ends');
        return true;
      },
    );
    assert.equal(worked, false);
  });

  it('tells the router before sending, and waits only when asked', async () => {
    const { changes, calls } = runner(null);
    assert.equal((await changes.sendAndWait(op('o3'))).id, 'o3');
    assert.equal((await changes.sendAndWait(op('o4'), 30)).state, 'succeeded');
    await changes.send(op('o5'), { routes: false });
    assert.deepEqual(calls, ['routes', 'dispatch o3', 'routes', 'dispatch o4', 'wait o4 30s', 'dispatch o5']);
  });
});
