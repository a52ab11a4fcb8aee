import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UnrecoverableError } from 'bullmq';
import { JOB_CONTRACT_VERSION, stamp, type BrokerJobs, type HandlerMap } from '@gearshift/cartridges';
import { brokerJobProcessor } from './queue.service';

function setup() {
  const seen: { name: string; data: unknown }[] = [];
  const handlers: HandlerMap<BrokerJobs> = {
    'node.heartbeat': async (data) => void seen.push({ name: 'node.heartbeat', data }),
    'operation.report': async (data) => void seen.push({ name: 'operation.report', data }),
    'app.wake': async (data) => void seen.push({ name: 'app.wake', data }),
  };
  return { seen, process: brokerJobProcessor(handlers) };
}

const heartbeat: BrokerJobs['node.heartbeat'] = {
  nodeId: 'n1',
  at: 1,
  capacity: { memoryMb: 1024, maxGears: 10, address: '127.0.0.1' },
  gears: [],
  memoryRssMb: 60,
};

describe('the broker queue', () => {
  it('hands a job of its own contract version to its handler, without the version', async () => {
    const { seen, process } = setup();
    await process({ name: 'node.heartbeat', data: stamp(heartbeat) });
    await process({ name: 'app.wake', data: stamp({ appId: 'a1', host: 'shop-acme.localhost' }) });
    assert.deepEqual(seen, [
      { name: 'node.heartbeat', data: heartbeat },
      { name: 'app.wake', data: { appId: 'a1', host: 'shop-acme.localhost' } },
    ]);
  });

  it('fails for good a report of another contract version, saying which side to upgrade; no handler runs', async () => {
    const { seen, process } = setup();
    const report = { operationId: 'op1', nodeId: 'n1', appId: 'a1', phase: 'succeeded', at: 1, gears: [], contractVersion: JOB_CONTRACT_VERSION + 1 };
    await assert.rejects(
      process({ name: 'operation.report', data: report }),
      (err: Error) =>
        err instanceof UnrecoverableError &&
        err.message ===
          `the node agent speaks job contract v${JOB_CONTRACT_VERSION + 1}; this broker speaks v${JOB_CONTRACT_VERSION}: upgrade this broker so that both speak the same version`,
    );
    await assert.rejects(
      process({ name: 'node.heartbeat', data: heartbeat }),
      /the node agent speaks job contract without a version \(older than v1\).*upgrade the node agent/,
    );
    assert.deepEqual(seen, []);
  });

  it('fails for good a heartbeat whose payload breaks the contract, naming the field and the rule', async () => {
    const { seen, process } = setup();
    await assert.rejects(
      process({ name: 'node.heartbeat', data: stamp({ ...heartbeat, gears: [{ gearId: 'g1', appId: 'a1', state: 'sleeping', ports: {} }] }) }),
      (err: Error) =>
        err instanceof UnrecoverableError &&
        err.message ===
          'job node.heartbeat of the node agent breaks job contract v2: /gears/0/state must be one of "running", "stopped", "starting", "failed", "missing" (enum)',
    );
    await assert.rejects(
      process({ name: 'node.shutdown', data: stamp({}) }),
      (err: Error) => err instanceof UnrecoverableError && /this broker knows no job "node.shutdown"/.test(err.message),
    );
    assert.deepEqual(seen, []);
  });
});
