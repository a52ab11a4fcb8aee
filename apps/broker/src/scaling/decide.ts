/** Autoscaling and idling decisions. Pure: given an app's settings, its traffic and the time, what to do and why. */

export interface Traffic {
  /** Requests being served or queued at the router right now, for the app. */
  concurrent: number;
  /** Requests a second, over the last sample. */
  rate: number;
  /** When the router last saw a request for the app (ms since the epoch), or 0. */
  lastRequestAt: number;
}

export interface ScalingPolicy {
  min: number;
  max: number;
  /** Concurrent requests one gear should carry. */
  target: number;
  upCooldownMs: number;
  downCooldownMs: number;
}

export type Decision = { kind: 'scale'; replicas: number; reason: string } | { kind: 'idle'; reason: string } | null;

export interface DecideInput {
  replicas: number;
  policy: ScalingPolicy | null;
  idleAfterMs: number | null;
  traffic: Traffic | undefined;
  /**
   * The routers' last figures for the app are too old to say anything (the routers are stopped or restarting, while
   * HAProxy serves on): nothing is decided on them, neither idling a busy app nor shrinking it.
   */
  stale?: boolean;
  /** When the app last scaled, started or woke (ms): traffic before that says nothing of the gears now. */
  lastChangeAt: number;
  now: number;
}

export function decide(i: DecideInput): Decision {
  if (i.stale) return null;
  const t = i.traffic ?? { concurrent: 0, rate: 0, lastRequestAt: 0 };
  if (i.idleAfterMs !== null) {
    const quietSince = Math.max(t.lastRequestAt, i.lastChangeAt);
    if (t.concurrent === 0 && i.now - quietSince >= i.idleAfterMs) {
      return { kind: 'idle', reason: `no request for ${Math.round((i.now - quietSince) / 1000)} s (idles after ${Math.round(i.idleAfterMs / 1000)} s)` };
    }
  }
  const p = i.policy;
  if (!p) return null;
  const wanted = Math.min(p.max, Math.max(p.min, Math.ceil(t.concurrent / p.target)));
  const sinceChange = i.now - i.lastChangeAt;
  if (wanted > i.replicas && sinceChange >= p.upCooldownMs) {
    return { kind: 'scale', replicas: wanted, reason: `${t.concurrent} concurrent requests for ${i.replicas} gear(s), target ${p.target} a gear` };
  }
  if (wanted < i.replicas && sinceChange >= p.downCooldownMs) {
    return {
      kind: 'scale',
      replicas: wanted,
      reason: `${t.concurrent} concurrent requests for ${i.replicas} gear(s) for ${Math.round(sinceChange / 1000)} s, target ${p.target} a gear`,
    };
  }
  if (i.replicas < p.min || i.replicas > p.max) {
    return { kind: 'scale', replicas: Math.min(p.max, Math.max(p.min, i.replicas)), reason: `keeping within ${p.min}..${p.max} gears` };
  }
  return null;
}
