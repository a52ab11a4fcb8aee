import type { App } from './api-types';
import { table } from './output';

export const appTable = (apps: App[]): string =>
  table(
    apps.map((a) => ({ name: a.name, status: a.status, cartridges: a.cartridges.join(','), scale: a.scale, url: a.url })),
    ['name', 'status', 'cartridges', 'scale', 'url'],
  );

export function showApp(a: App): string {
  const lines = [
    `${a.name} (${a.domain})  ${a.status}`,
    ...(a.degraded ? [`  degraded    ${a.degraded}`] : []),
    ...(a.warnings ?? []).map((w) => `  warning     ${w}`),
    `  url         ${a.url}`,
    `  cartridges  ${a.cartridges.join(', ')}`,
    ...(a.kept ?? []).map((k) => `  kept        ${k.cartridge} (upgraded to ${k.upgradedTo}; confirm or abort the upgrade)`),
    // An app of services only has no web gears of a cartridge: its services' gears are counted on their own lines.
    `  size        ${a.size}${a.scale > 0 || !a.services?.length ? `, ${a.scale} web gear(s)` : ''}${a.autoscale ? `, autoscaling ${a.autoscale.min}..${a.autoscale.max}` : ''}${a.idleAfterSeconds ? `, idles after ${a.idleAfterSeconds} s` : ''}`,
    ...(a.services ?? []).map(
      (s) =>
        `  service     ${s.name}: ${s.gears} of ${s.scale} gear(s)${s.release !== null ? `, release ${s.release}` : ''}${s.cartridge ? ` (${s.cartridge})` : ''}${s.autoscale ? `, autoscaling ${s.autoscale.min}..${s.autoscale.max}` : ''}${s.hosts ? `, at ${s.hosts.join(', ')}` : ''}`,
    ),
    '',
    gearTable(a.gears),
  ];
  return lines.join('\n');
}

/** An app's gears; with a column for what each runs when some run a service or a Procfile process (several may share a cartridge). */
function gearTable(gears: App['gears']): string {
  const runs = (g: App['gears'][number]) => g.service ?? (g.process ? `process ${g.process}` : undefined);
  const named = gears.some((g) => runs(g) !== undefined);
  return table(
    gears.map((g) => ({
      gear: g.id.slice(0, 8),
      ...(named ? { service: runs(g) } : {}),
      cartridge: g.cartridge,
      node: g.node,
      state: g.state,
      endpoint: g.endpoints?.http ?? '',
    })),
    named ? ['gear', 'service', 'cartridge', 'node', 'state', 'endpoint'] : ['gear', 'cartridge', 'node', 'state', 'endpoint'],
  );
}
