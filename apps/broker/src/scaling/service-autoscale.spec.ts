import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serviceTrafficId, type AppTraffic } from '@gearshift/cartridges';
import { serviceScaling, type ServiceScalingInput } from './service-autoscale';

const APP = 'a0000000-0000-4000-8000-000000000000';
const now = 1_000_000;
const busy = (concurrent: number, at = now - 500): AppTraffic => ({ at, concurrent, rate: concurrent * 10, lastRequestAt: at });
const gears = (service: string, n: number) => Array.from({ length: n }, () => ({ service }));

const base: ServiceScalingInput = {
  appId: APP,
  createdAt: 0,
  webCartridge: false,
  gears: [...gears('front', 1), ...gears('api', 1), { service: null }],
  services: {
    front: { scale: 1 },
    api: { scale: 1, autoscale: { min: 1, max: 3, targetConcurrency: 2 } },
  },
  release: { front: { kind: 'web' }, api: { kind: 'web', hosts: ['api.example.test'] } },
  appTraffic: new Map(),
  serviceTraffic: new Map(),
  upCooldownMs: 1_000,
  downCooldownMs: 4_000,
  staleMs: 10_000,
  now,
};

describe('autoscaling of web services', () => {
  it("grows a service with host names of its own by its own traffic, not the app's", () => {
    const d = serviceScaling({ ...base, serviceTraffic: new Map([[serviceTrafficId(APP, 'api'), busy(5)]]) });
    assert.equal(d?.service, 'api');
    assert.equal(d?.replicas, 3);
    assert.match(d!.reason, /5 concurrent requests for 1 gear\(s\), target 2 a gear/);
    // The app's host name is busy, the service's is not: nothing to do.
    assert.equal(serviceScaling({ ...base, appTraffic: new Map([[APP, busy(50)]]) }), null);
  });

  it("scales the web service that answers at the app's host name by the app's traffic", () => {
    const services = { front: { scale: 1, autoscale: { min: 1, max: 4, targetConcurrency: 1 } } };
    const d = serviceScaling({ ...base, services, appTraffic: new Map([[APP, busy(3)]]) });
    assert.deepEqual(d && { service: d.service, replicas: d.replicas }, { service: 'front', replicas: 3 });
    // With a web cartridge, the app's host name is the cartridge's: its traffic says nothing of the service.
    assert.equal(serviceScaling({ ...base, services, webCartridge: true, appTraffic: new Map([[APP, busy(3)]]) }), null);
  });

  it('shrinks back to the minimum once the traffic is gone, after the cooldown', () => {
    const input = { ...base, gears: gears('api', 3), serviceTraffic: new Map([[serviceTrafficId(APP, 'api'), busy(0)]]) };
    const soon = { ...input.services, api: { ...input.services.api, lastScaledAt: now - 2_000 } };
    assert.equal(serviceScaling({ ...input, services: soon }), null, 'not within the cooldown');
    const later = { ...input.services, api: { ...input.services.api, lastScaledAt: now - 5_000 } };
    assert.equal(serviceScaling({ ...input, services: later })?.replicas, 1);
  });

  it('decides nothing on stale figures, nor for a service that is not autoscaled or not web', () => {
    const old = new Map([[serviceTrafficId(APP, 'api'), busy(0, now - 60_000)]]);
    assert.equal(serviceScaling({ ...base, gears: gears('api', 3), serviceTraffic: old }), null);
    const fixed = { ...base.services, api: { scale: 1 } };
    assert.equal(serviceScaling({ ...base, services: fixed, serviceTraffic: new Map([[serviceTrafficId(APP, 'api'), busy(9)]]) }), null);
    const internal = { ...base.release, api: { kind: 'internal' as const } };
    assert.equal(serviceScaling({ ...base, release: internal, serviceTraffic: new Map([[serviceTrafficId(APP, 'api'), busy(9)]]) }), null);
  });

  it('brings a service outside its bounds back within them, even when no route reaches it', () => {
    const unrouted = { ...base.release, api: { kind: 'web' as const } };
    const services = { ...base.services, api: { ...base.services.api, lastScaledAt: now - 500 } };
    const d = serviceScaling({ ...base, webCartridge: true, release: unrouted, services, gears: gears('api', 5) });
    assert.equal(d?.replicas, 3);
    assert.match(d!.reason, /keeping within 1..3 gears/);
    // Past the cooldown, no traffic at all brings it to its minimum.
    assert.equal(serviceScaling({ ...base, webCartridge: true, release: unrouted, gears: gears('api', 5) })?.replicas, 1);
  });
});
