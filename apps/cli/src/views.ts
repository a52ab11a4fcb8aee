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
    `  url         ${a.url}`,
    `  cartridges  ${a.cartridges.join(', ')}`,
    ...(a.kept ?? []).map((k) => `  kept        ${k.cartridge} (upgraded to ${k.upgradedTo}; confirm or abort the upgrade)`),
    `  size        ${a.size}, ${a.scale} web gear(s)${a.autoscale ? `, autoscaling ${a.autoscale.min}..${a.autoscale.max}` : ''}${a.idleAfterSeconds ? `, idles after ${a.idleAfterSeconds} s` : ''}`,
    ...(a.services ?? []).map(
      (s) =>
        `  service     ${s.name}: ${s.gears} of ${s.scale} gear(s)${s.release !== null ? `, release ${s.release}` : ''}${s.cartridge ? ` (${s.cartridge})` : ''}${s.hosts ? `, at ${s.hosts.join(', ')}` : ''}`,
    ),
    '',
    table(
      a.gears.map((g) => ({ gear: g.id.slice(0, 8), cartridge: g.cartridge, node: g.node, state: g.state, endpoint: g.endpoints?.http ?? '' })),
      ['gear', 'cartridge', 'node', 'state', 'endpoint'],
    ),
  ];
  return lines.join('\n');
}
