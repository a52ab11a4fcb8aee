import type { App, AppOperation } from './api-types';
import { Cells, table } from './output';

/**
 * The gears an app runs, as a list shows them: its web gears, its Procfile's other process types' and each named
 * service's (`web:2,worker:1`), so that an app of services does not read as running none, nor one with workers as
 * running its web gears only.
 */
export function appScale(a: App): string {
  const processes = Object.entries(a.processes ?? {})
    .filter(([, gears]) => gears > 0)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([type, gears]) => `${type}:${gears}`);
  const services = (a.services ?? []).map((s) => `${s.name}:${s.gears}`);
  // The web gears are the Procfile's web process type when the app has others: named so, beside them.
  const web = processes.length > 0 ? [`web:${a.scale}`] : a.scale > 0 || services.length === 0 ? [String(a.scale)] : [];
  return [...web, ...processes, ...services].join(',');
}

export const appTable = (apps: App[]): string =>
  table(
    apps.map((a) => ({ name: a.name, status: a.status, cartridges: a.cartridges.join(','), scale: appScale(a), url: a.url })),
    ['name', 'status', 'cartridges', 'scale', 'url'],
  );

/**
 * An app's operations, newest first; a failed one says why, on one line cut to fit (whole with `wide`, or in --json).
 */
export function operationTable(ops: AppOperation[], wide = false): string {
  const cells = new Cells(wide);
  const rendered = table(
    ops.map((o) => ({
      when: o.createdAt,
      kind: o.kind,
      by: o.by,
      state: o.state,
      what: o.steps[0]?.text,
      why: o.state === 'failed' ? cells.fit(o.error, 100) : '',
    })),
    ['when', 'kind', 'by', 'state', 'what', 'why'],
  );
  return cells.note(rendered);
}

/**
 * What to do when no domain is chosen: a user with one domain (made through the API, or in the console) makes it the
 * default, one with several picks one, and only one with none creates one.
 */
export function noDomainMessage(mine: string[]): string {
  if (mine.length === 0) return 'no domain: pass --domain NAME, or create one with: gearshift domains create NAME';
  if (mine.length === 1) return `no default domain: make yours the default with: gearshift domains use ${mine[0]} (or pass --domain ${mine[0]})`;
  return `no default domain: choose one of yours (${mine.join(', ')}) with: gearshift domains use NAME, or pass --domain NAME`;
}

export function showApp(a: App): string {
  const lines = [
    `${a.name} (${a.domain})  ${a.status}`,
    ...(a.stoppedBecause ? [`  stopped     ${a.stoppedBecause}`] : []),
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
