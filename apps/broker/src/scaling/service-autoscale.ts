import { serviceTrafficId, type AppTraffic } from '@gearshift/cartridges';
import type { AppServiceScale } from '../apps/app.entity';
import type { ReleaseService } from '../apps/deployment.entity';
import { appHostService } from '../apps/gear-specs';
import { decide } from './decide';

/** What the autoscaler knows of an app with autoscaled web services, as plain data. */
export interface ServiceScalingInput {
  appId: string;
  /** When the app was created (ms): a service never scaled since counts its changes from there. */
  createdAt: number;
  /** The app has a web cartridge, which answers at its host name (so no service does). */
  webCartridge: boolean;
  /** The service each of the app's gears runs (null: a cartridge's gear). */
  gears: { service?: string | null }[];
  services: Record<string, AppServiceScale>;
  /** The services of the release the app serves. */
  release: Record<string, Pick<ReleaseService, 'kind' | 'hosts'>>;
  /** The routers' figures per app (the app's host name) and per web service with host names of its own. */
  appTraffic: Map<string, AppTraffic>;
  serviceTraffic: Map<string, AppTraffic>;
  upCooldownMs: number;
  downCooldownMs: number;
  /** Traffic older than this says nothing about now. */
  staleMs: number;
  now: number;
}

export interface ServiceScaling {
  service: string;
  replicas: number;
  reason: string;
}

/**
 * The traffic a web service serves: its own host names' when it has some; the app's host name's when it is the web
 * service that answers there (an app without a web cartridge). Undefined: nothing routes to it.
 */
function trafficOf(i: ServiceScalingInput, name: string): { traffic?: AppTraffic; routed: boolean } {
  const s = i.release[name];
  if (s?.hosts?.length) return { traffic: i.serviceTraffic.get(serviceTrafficId(i.appId, name)), routed: true };
  if (!i.webCartridge && appHostService(i.release) === name) return { traffic: i.appTraffic.get(i.appId), routed: true };
  return { routed: false };
}

/**
 * The first autoscaled web service of the app (by name) that should grow or shrink, with its reason, as decide()
 * says for an app's web gears; null when none should. One at a time: each change is an operation on the app.
 */
export function serviceScaling(i: ServiceScalingInput): ServiceScaling | null {
  for (const name of Object.keys(i.services).sort()) {
    const own = i.services[name];
    if (!own.autoscale || i.release[name]?.kind !== 'web') continue;
    const { traffic, routed } = trafficOf(i, name);
    const fresh = traffic && i.now - traffic.at < i.staleMs ? traffic : undefined;
    const decision = decide({
      replicas: i.gears.filter((g) => g.service === name).length,
      policy: {
        min: own.autoscale.min,
        max: own.autoscale.max,
        target: own.autoscale.targetConcurrency,
        upCooldownMs: i.upCooldownMs,
        downCooldownMs: i.downCooldownMs,
      },
      idleAfterMs: null,
      traffic: fresh,
      // A service no route reaches has no traffic to wait for: it keeps within its bounds.
      stale: routed && traffic !== undefined && !fresh,
      lastChangeAt: Math.max(own.lastScaledAt ?? 0, i.createdAt),
      now: i.now,
    });
    if (decision?.kind === 'scale') return { service: name, replicas: decision.replicas, reason: decision.reason };
  }
  return null;
}
