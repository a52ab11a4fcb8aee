import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AppTraffic } from '@gearshift/cartridges';
import { appPoint, gearPoint, historyAnswer, parsePoint, type AppPoint } from './history';

const traffic = (requests: number, errors: number, responseMs = 12, rate = 0.5): AppTraffic => ({
  at: 0,
  concurrent: 0,
  rate,
  lastRequestAt: 0,
  http: { requests, errors, responseMs },
});

describe('metrics history points', () => {
  it("takes the router's own rate for an app's first point", () => {
    assert.deepEqual(appPoint(1000, traffic(40, 2), undefined, 15), [1000, 0.5, 12, 0, 40, 2]);
  });

  it('counts requests and errors since the previous point', () => {
    const prev: AppPoint = [1000, 0.5, 12, 0, 40, 2];
    assert.deepEqual(appPoint(1015, traffic(70, 5, 20), prev, 15), [1015, 2, 20, 0.1, 70, 5]);
  });

  it('counts from zero after HAProxy reloaded (its counters went down)', () => {
    const prev: AppPoint = [1000, 1, 12, 0, 400, 20];
    assert.deepEqual(appPoint(1015, traffic(30, 3), prev, 15), [1015, 2, 12, 0.1, 30, 3]);
  });

  it('has no error rate without requests, and starts again after a gap', () => {
    const prev: AppPoint = [1000, 1, 12, 0, 40, 2];
    assert.deepEqual(appPoint(1015, traffic(40, 2), prev, 15), [1015, 0, 12, 0, 40, 2]);
    assert.deepEqual(appPoint(2000, traffic(90, 9, 12, 3), prev, 15), [2000, 3, 12, 0, 90, 9]);
  });

  it("gives a gear's CPU in percent of a core, and 0 before its second sample", () => {
    assert.deepEqual(gearPoint(1000, { gearId: 'g', appId: 'a', cpuSeconds: 3, memoryBytes: 1024, cpuRatio: 0.25 }), [1000, 25, 1024]);
    assert.deepEqual(gearPoint(1000, { gearId: 'g', appId: 'a', cpuSeconds: 3, memoryBytes: 1024 }), [1000, 0, 1024]);
  });

  it('answers the last minutes in the shape the console draws, leaving out gears with nothing in them', () => {
    const app: AppPoint[] = [
      [400, 9, 9, 9, 0, 0],
      [985, 1, 10, 0, 10, 0],
      [1000, 2, 11, 0.5, 40, 15],
    ];
    const gears = [
      { name: 'g2', node: 'n1', points: [[1000, 5, 2048] as [number, number, number]] },
      { name: 'g1', node: 'n2', points: [[100, 5, 2048] as [number, number, number]] },
    ];
    assert.deepEqual(historyAnswer(15, 1000, 1, app, gears), {
      step: 15,
      series: {
        requestsPerSecond: [
          [985, 1],
          [1000, 2],
        ],
        responseTimeMs: [
          [985, 10],
          [1000, 11],
        ],
        errorRate: [
          [985, 0],
          [1000, 0.5],
        ],
      },
      gears: [{ name: 'g2', node: 'n1', cpuPercent: [[1000, 5]], memoryBytes: [[1000, 2048]] }],
    });
  });

  it('reads back only arrays of numbers', () => {
    assert.deepEqual(parsePoint('[1,2,3]'), [1, 2, 3]);
    for (const bad of ['', null, 'x', '{"a":1}', '[1,"2"]']) assert.equal(parsePoint(bad), undefined);
  });
});
