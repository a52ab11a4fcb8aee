import type { AppServiceScale } from './app.entity';
import type { ReleaseService } from './deployment.entity';

/** Pure rules of how many gears a named service runs, by hand, by its release, or by the autoscaler. */

const within = (n: number, min: number, max: number) => Math.min(max, Math.max(min, n));

/**
 * How many gears a service of a release runs, given what the app keeps of it (`own`): a scale set by hand stays; an
 * autoscaled service keeps the count it has now, within the release's bounds (a push does not start it again at its
 * minimum); otherwise the release's `scale` (default 1).
 */
export function serviceScaleOf(own: AppServiceScale | undefined, s: Pick<ReleaseService, 'scale' | 'autoscale'>): number {
  if (own?.scaled) return own.scale;
  if (s.autoscale) return within(own?.scale ?? s.autoscale.min, s.autoscale.min, s.autoscale.max);
  return s.scale ?? 1;
}

/**
 * What the app keeps of a service once a release that names it serves: a choice made by hand (a scale, or bounds)
 * stays as it is; an autoscaled service takes the release's bounds and keeps its count within them; any other takes
 * the release's scale.
 */
export function followedServiceScale(own: AppServiceScale | undefined, s: Pick<ReleaseService, 'scale' | 'autoscale'>): AppServiceScale {
  if (own?.scaled) return own;
  if (!s.autoscale) return { scale: s.scale ?? 1 };
  return {
    scale: serviceScaleOf(own, s),
    autoscale: { ...s.autoscale },
    ...(own?.autoscale && own.lastScaledAt !== undefined ? { lastScaledAt: own.lastScaledAt } : {}),
  };
}
