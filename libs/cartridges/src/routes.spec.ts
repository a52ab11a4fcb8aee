import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sumTraffic, trafficField, TRAFFIC_GONE_MS, type AppTraffic } from './routes';

const t = (at: number, rate: number, requests: number, extra: Partial<AppTraffic> = {}): string =>
  JSON.stringify({ at, concurrent: 1, rate, lastRequestAt: at, http: { requests, errors: 1, responseMs: 10 }, ...extra });

describe('sumTraffic', () => {
  it('adds up what each router saw of an app instead of taking the last writer', () => {
    const { apps, expired } = sumTraffic({
      [trafficField('a1', 'n1:80')]: t(1000, 2, 100, { http: { requests: 100, errors: 1, responseMs: 10 } }),
      [trafficField('a1', 'n2:80')]: t(1500, 6, 300, { http: { requests: 300, errors: 3, responseMs: 30 } }),
      [trafficField('a2', 'n1:80')]: t(1000, 1, 5),
    });
    assert.deepEqual(apps.get('a1'), { at: 1500, concurrent: 2, rate: 8, lastRequestAt: 1500, http: { requests: 400, errors: 4, responseMs: 25 } });
    assert.equal(apps.get('a2')?.rate, 1);
    assert.deepEqual(expired, []);
  });

  it('reads an older router field that is only the app id', () => {
    const { apps } = sumTraffic({ a1: t(1000, 3, 10), [trafficField('a1', 'n2:80')]: t(1200, 1, 10) });
    assert.equal(apps.get('a1')?.rate, 4);
  });

  it("leaves out a stopped router's rate and concurrency, and lets its field expire once a live router saw later requests", () => {
    const gone = trafficField('a1', 'n1:80');
    const at = 100_000;
    const { apps, expired } = sumTraffic({ [gone]: t(at - TRAFFIC_GONE_MS - 1, 50, 100), [trafficField('a1', 'n2:80')]: t(at, 2, 300) });
    assert.equal(apps.get('a1')?.rate, 2);
    assert.equal(apps.get('a1')?.concurrent, 1);
    assert.deepEqual(expired, [gone]);
    assert.equal(apps.get('a1')?.http?.requests, 300);
  });

  it("keeps a stopped router's field while its last request is the latest the app had", () => {
    const gone = trafficField('a1', 'n1:80');
    const at = 100_000;
    const { apps, expired } = sumTraffic({
      [gone]: t(at - TRAFFIC_GONE_MS - 1, 50, 100),
      [trafficField('a1', 'n2:80')]: t(at, 0, 0, { lastRequestAt: 0, concurrent: 0 }),
    });
    assert.deepEqual(expired, []);
    assert.equal(apps.get('a1')?.lastRequestAt, at - TRAFFIC_GONE_MS - 1);
    assert.equal(apps.get('a1')?.rate, 0);
    assert.equal(apps.get('a1')?.http?.requests, 100, "the stopped router's count stays in the sum");
  });

  it('keeps the last values when every router of an app is silent, and skips what is not traffic', () => {
    const { apps } = sumTraffic({ [trafficField('a1', 'n1:80')]: t(1000, 3, 10), [trafficField('a1', 'n2:80')]: '{oops', a3: '{}' });
    assert.equal(apps.get('a1')?.rate, 3);
    assert.equal(apps.has('a3'), false);
  });
});
