import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import type { RunInput } from '@gearshift/cartridges';
import { readInput } from '../apps/node-agent/src/run';
import { eventually } from './support/processes';
import { REDIS_URL } from './support/stores';

/**
 * A command's input (the keys typed into `gearshift run -it` or `exec -it`) reaches the node through a Redis stream:
 * what was sent before the node read, and what was sent while the node's connection was down, still arrives, once
 * and in order. On pub/sub, a key typed while the node reconnected was lost and the terminal stopped answering.
 */
describe("a command's input", { timeout: 60_000 }, () => {
  const key = `input${randomBytes(4).toString('hex')}:logs:run-x:in`;
  let redis: IORedis;
  let reader: IORedis;

  before(() => {
    redis = new IORedis(REDIS_URL);
    reader = new IORedis(REDIS_URL, { maxRetriesPerRequest: null, connectionName: `reader-${key}` });
  });
  after(async () => {
    await redis.del(key);
    redis.disconnect();
    reader.disconnect();
  });

  const send = (m: RunInput) => redis.xadd(key, '*', 'm', JSON.stringify(m));
  const typed = (text: string): RunInput => ({ data: Buffer.from(text).toString('base64') });

  it('arrives in order: what came before the node read, and what came while its connection was down', async () => {
    const got: RunInput[] = [];
    let reading = true;
    await send(typed('early'));
    await send({ resize: { cols: 120, rows: 40 } });
    const acks: number[] = [];
    const done = readInput(
      reader,
      key,
      async (m) => void got.push(m),
      () => reading,
      (_last, count) => acks.push(count),
    );
    await eventually('the early input', async () => got.length === 2, 10_000, 20);

    // The node's connection is cut; keys are typed before it is back.
    const id = String(await redis.call('CLIENT', 'LIST'))
      .split('\n')
      .find((l) => l.includes(`name=reader-${key}`))
      ?.match(/\bid=(\d+)/)?.[1];
    assert.ok(id, 'the reader has a connection');
    await redis.call('CLIENT', 'KILL', 'ID', id);
    for (const word of ['while', 'down']) await send(typed(word));
    await send({ eof: true });

    await eventually('every input', async () => got.length === 5, 15_000, 20);
    reading = false;
    await done;
    assert.deepEqual(got, [typed('early'), { resize: { cols: 120, rows: 40 } }, typed('while'), typed('down'), { eof: true }]);
    // The node says how far it has read, which lets the broker trim the stream and take more from the user.
    assert.equal(acks.at(-1), 5);
  });

  it('says it has read a message only once the command took it: a command that reads nothing holds the input back', async () => {
    const held = `${key}:held`;
    const acks: number[] = [];
    let reading = true;
    let release = () => undefined as void;
    const taken = new Promise<void>((resolve) => (release = resolve));
    try {
      await redis.xadd(held, '*', 'm', JSON.stringify(typed('stuck')));
      const done = readInput(
        reader,
        held,
        () => taken,
        () => reading,
        (_last, count) => acks.push(count),
      );
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(acks.length, 0, 'nothing acknowledged while the command has not taken the input');
      release();
      await eventually('the acknowledgement', async () => acks.includes(1), 5_000, 20);
      reading = false;
      await done;
    } finally {
      await redis.del(held);
    }
  });
});
