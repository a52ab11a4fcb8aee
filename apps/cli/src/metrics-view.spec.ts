import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { metricsView } from './metrics-view';

describe('gearshift app metrics', () => {
  it("prints the latest of each series: the app's traffic, then a row per gear", () => {
    const text = metricsView({
      step: 15,
      series: {
        requestsPerSecond: [
          [1733860000, 1],
          [1733860015, 2.5],
        ],
        responseTimeMs: [
          [1733860000, 10],
          [1733860015, 12.4],
        ],
        errorRate: [
          [1733860000, 0],
          [1733860015, 0.125],
        ],
      },
      gears: [{ name: 'g1', node: 'node1', cpuPercent: [[1733860015, 3.25]], memoryBytes: [[1733860015, 25 * 1024 * 1024]] }],
    });
    assert.equal(
      text,
      [
        'REQUESTS/S  RESPONSE TIME  ERRORS  AT',
        '2.50        12 ms          12.5 %  2024-12-10T19:46:55.000Z',
        '',
        'GEAR  NODE   CPU    MEMORY',
        'g1    node1  3.3 %  25.0 MiB',
      ].join('\n'),
    );
  });

  it('says when no traffic was seen yet, and that there are no gears', () => {
    const text = metricsView({ step: 15, series: { requestsPerSecond: [], responseTimeMs: [], errorRate: [] }, gears: [] });
    assert.match(text, /^REQUESTS\/S +RESPONSE TIME +ERRORS +AT\n- +- +- +no traffic seen yet\n\n\(none\)$/);
  });
});
