import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseStats, TrafficMeter } from './traffic';

const csv = (scur: number, req: number) =>
  `# pxname,svname,qcur,qmax,scur,smax,slim,stot,req_tot\napp_x,gear_1,0,0,${scur},1,,10,5\napp_x,BACKEND,1,0,${scur},3,,10,${req}\ngs_unknown_host,BACKEND,0,0,0,0,,0,0\n`;

describe('traffic', () => {
  it('reads sessions, queue and requests of backends from show stat', () => {
    assert.deepEqual(parseStats(csv(2, 40)).get('app_x'), { concurrent: 3, requests: 40 });
  });

  it("passes HAProxy's HTTP counters on with an app's traffic, where its CSV has them", () => {
    const full = '# pxname,svname,qcur,scur,stot,req_tot,hrsp_5xx,rtime\napp_x,BACKEND,0,1,10,42,3,17\n';
    const stats = parseStats(full);
    assert.deepEqual(stats.get('app_x'), { concurrent: 1, requests: 42, http: { requests: 42, errors: 3, responseMs: 17 } });
    const sample = new TrafficMeter().sample(stats, new Map([['app_x', 'A']]), 1000, new Map()).get('A');
    assert.deepEqual(sample?.http, { requests: 42, errors: 3, responseMs: 17 });
  });

  it('turns samples into a rate and the time of the last request, across a reload', () => {
    const m = new TrafficMeter();
    const apps = new Map([['app_x', 'A']]);
    m.sample(parseStats(csv(0, 40)), apps, 1000, new Map());
    assert.deepEqual(m.sample(parseStats(csv(0, 60)), apps, 3000, new Map()).get('A'), { at: 3000, concurrent: 1, rate: 10, lastRequestAt: 3000 });
    assert.equal(m.sample(parseStats(csv(0, 60)).set('app_x', { concurrent: 0, requests: 60 }), apps, 4000, new Map()).get('A')?.lastRequestAt, 3000);
    // After a reload HAProxy counts from zero again.
    assert.equal(m.sample(parseStats(csv(0, 5)), apps, 5000, new Map()).get('A')?.rate, 5);
  });

  it('keeps the time of the last request an earlier router reported until a request comes', () => {
    const m = new TrafficMeter();
    const apps = new Map([['app_x', 'A']]);
    m.seed(new Map([['A', 900]]));
    assert.equal(m.sample(parseStats(csv(0, 0)).set('app_x', { concurrent: 0, requests: 0 }), apps, 1000, new Map()).get('A')?.lastRequestAt, 900);
    assert.equal(m.sample(parseStats(csv(0, 3)).set('app_x', { concurrent: 0, requests: 3 }), apps, 2000, new Map()).get('A')?.lastRequestAt, 2000);
  });
});
