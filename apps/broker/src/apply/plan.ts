import {
  buildContext,
  cartridgeFamily,
  descriptorEnv,
  entryName,
  servicePort,
  upgradeProblem,
  type AppDescriptor,
  type AppHealth,
  type Cartridge,
  type CronEntry,
  type ServiceDescriptor,
} from '@gearshift/cartridges';

/** What an app is now, as far as a descriptor can say. */
export interface AppState {
  cartridges: string[];
  size: string;
  webScale: number;
  autoscale: { min: number; max: number; targetConcurrency: number } | null;
  env: Record<string, string>;
  aliases: string[];
  idleAfterSeconds: number | null;
  health: AppHealth | null;
  /** Databases an upgrade replaced, kept (stopped, with their data) until it is confirmed or aborted. */
  kept?: { cartridge: string; upgradedTo: string }[];
  /** The named services of the release that serves, with the scale each runs at (`scaled`: set by hand, kept). */
  services?: Record<string, ServiceState>;
  /** The `cron:` entries of the release that serves (none before the first). */
  cron?: readonly CronEntry[];
}

/** A named service as the release that serves runs it, in the terms of a descriptor. */
export interface ServiceState {
  kind: string;
  /** A named image; absent for one built from a folder. */
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string | string[];
  entrypoint?: string[];
  workingDir?: string;
  env: Record<string, string>;
  port?: number;
  hosts?: string[];
  scale: number;
  scaled: boolean;
  /** A web service's autoscaling bounds as its release gives them; its scale then moves with its traffic. */
  autoscale?: { min: number; max: number; targetConcurrency: number };
}

export interface PlanItem {
  /**
   * `upgrade`: a database moves to its successor in one operation that keeps its data (see upgrades/). `abort`: the
   * file names the database an upgrade keeps, in place of its successor: the upgrade is aborted and it serves again.
   */
  action: 'create' | 'add' | 'remove' | 'change' | 'upgrade' | 'abort';
  target: string;
  from?: unknown;
  to?: unknown;
  reason: string;
  /** What would be lost: set when the change removes data. */
  loses?: string;
}

export type PlanRefusal = { pointer: string; rule: string; message: string };

/**
 * The plan that takes an app from what it is to what its descriptor says, item by item with the reason. Pure. An
 * empty plan means the app already is what the file says. Refusals are changes a descriptor cannot make.
 */
export function planApply(current: AppState | null, d: AppDescriptor, catalog: Map<string, Cartridge>): { items: PlanItem[]; refusals: PlanRefusal[] } {
  const items: PlanItem[] = [];
  const refusals: PlanRefusal[] = [];
  const env = descriptorEnv(d);
  // Settings of a cartridge (a docker-image's image, a size) take effect when it is added; names are compared.
  const names = d.cartridges.map(entryName);
  const isWeb = (n: string) => catalog.get(n)?.manifest.categories.includes('web') ?? false;
  // A scale the web cartridge does not run is refused before anything is made, a new app's too, as PUT .../scale
  // refuses it (a compose file's deploy.replicas of its web gear comes here as the app's scale).
  const web = names.filter(isWeb).map((n) => catalog.get(n)!)[0];
  if (d.scale !== undefined && web) {
    const { min, max } = web.manifest.scaling ?? { min: 1, max: 1 };
    if (d.scale < min || d.scale > max)
      refusals.push({ pointer: '/scale', rule: 'scaling', message: `${web.manifest.name} scales from ${min} to ${max} gears, not ${d.scale}` });
  }
  if (!current) {
    items.push({ action: 'create', target: `app ${d.name}`, to: names, reason: 'the app does not exist yet' });
    for (const [k, v] of Object.entries(env)) items.push({ action: 'add', target: `env ${k}`, to: v, reason: 'declared in the file' });
    for (const a of d.aliases ?? []) items.push({ action: 'add', target: `alias ${a}`, reason: 'declared in the file' });
    if (d.autoscale) items.push({ action: 'change', target: 'autoscale', to: d.autoscale, reason: 'declared in the file' });
    if (d.idleAfterSeconds) items.push({ action: 'change', target: 'idleAfterSeconds', to: d.idleAfterSeconds, reason: 'declared in the file' });
    if (d.health) items.push({ action: 'change', target: 'health', to: d.health, reason: 'declared in the file' });
    items.push(...serviceItems({}, d.services ?? {}));
    items.push(...cronItems([], d.cron ?? []));
    return { items, refusals };
  }

  let added = names.filter((c) => !current.cartridges.includes(c));
  // A file that names no web cartridge leaves the runtime to the app: the one a push detected (or that was added)
  // stays, as the push that detected it would detect it again.
  let removed = current.cartridges.filter((c) => !names.includes(c) && (names.some(isWeb) || !isWeb(c)));
  // An upgrade that waits for its confirmation: the file may keep the new database (nothing to do), or name the old
  // one again (the upgrade is aborted); anything else would leave the kept database without its successor.
  for (const k of current.kept ?? []) {
    const old = names.includes(k.cartridge);
    const successor = names.includes(k.upgradedTo);
    if (successor && !old) continue;
    if (old && !successor) {
      items.push({
        action: 'abort',
        target: `upgrade of ${k.cartridge} to ${k.upgradedTo}`,
        from: k.upgradedTo,
        to: k.cartridge,
        reason: `the file names ${k.cartridge}, which the upgrade to ${k.upgradedTo} keeps until it is confirmed: the upgrade is aborted and ${k.cartridge} serves again`,
        loses: `what was written to ${k.upgradedTo} since the upgrade`,
      });
      added = added.filter((c) => c !== k.cartridge);
      removed = removed.filter((c) => c !== k.upgradedTo);
      continue;
    }
    refusals.push({
      pointer: '/cartridges',
      rule: 'upgrade-waiting',
      message:
        `the upgrade of ${k.cartridge} to ${k.upgradedTo} waits to be confirmed (gearshift cartridge upgrade ${d.name} --confirm) or aborted ` +
        `(--abort): name ${k.upgradedTo} to keep it, or ${k.cartridge} to abort it, ${successor ? 'not both' : 'or end the upgrade first'}`,
    });
    added = added.filter((c) => c !== k.cartridge && c !== k.upgradedTo);
    removed = removed.filter((c) => c !== k.upgradedTo);
  }
  const move = runtimeMove(added.filter(isWeb), removed.filter(isWeb));
  if (move) {
    // Another version of the same runtime: the app's next deployment builds on it, health-gated like any other.
    items.push({
      action: 'change',
      target: 'web cartridge',
      from: move.from,
      to: move.to,
      reason: 'another version of the same runtime: the next deployment builds the app on it',
    });
    added = added.filter((c) => c !== move.to);
    removed = removed.filter((c) => c !== move.from);
  } else if (removed.some(isWeb) || (added.some(isWeb) && current.cartridges.some(isWeb))) {
    // An app created empty has no web cartridge until its first push: its file may give it one.
    refusals.push({
      pointer: '/cartridges',
      rule: 'web-cartridge',
      message: `the web cartridge of an existing app cannot change to another runtime (${current.cartridges.filter(isWeb).join(', ')}); another version of the same runtime can; create a new app instead`,
    });
  }
  // A database replaced by its successor (postgresql-15 by postgresql-17) keeps its data: an upgrade, not a removal.
  for (const from of [...removed]) {
    const to = added.find((a) => upgradeProblem(from, a, catalog) === null);
    if (!to) continue;
    items.push({
      action: 'upgrade',
      target: `cartridge ${from}`,
      from,
      to,
      reason: `${to} takes over the data of ${from}: dumped, restored and every row counted; the old volume is kept until the upgrade is confirmed`,
    });
    added = added.filter((c) => c !== to);
    removed = removed.filter((c) => c !== from);
  }
  for (const c of added) items.push({ action: 'add', target: `cartridge ${c}`, reason: 'in the file, not in the app' });
  for (const c of removed) {
    const volumes = catalog.get(c)?.manifest.volumes ?? [];
    items.push({
      action: 'remove',
      target: `cartridge ${c}`,
      reason: 'in the app, not in the file',
      ...(volumes.length > 0 ? { loses: `the data of ${c} (${volumes.map((v) => v.path).join(', ')})` } : {}),
    });
  }
  if (d.size && d.size !== current.size) {
    refusals.push({
      pointer: '/size',
      rule: 'size-change',
      message: `the gear size of an existing app cannot change yet (${current.size} → ${d.size}); create a new app with the new size`,
    });
  }
  for (const [k, v] of Object.entries(env)) {
    if (!(k in current.env)) items.push({ action: 'add', target: `env ${k}`, to: v, reason: 'in the file, not in the app' });
    else if (current.env[k] !== v) items.push({ action: 'change', target: `env ${k}`, from: current.env[k], to: v, reason: 'the value differs' });
  }
  for (const k of Object.keys(current.env)) if (!(k in env)) items.push({ action: 'remove', target: `env ${k}`, reason: 'in the app, not in the file' });

  if (d.autoscale) {
    const want = { min: d.autoscale.min, max: d.autoscale.max, targetConcurrency: d.autoscale.targetConcurrency ?? 10 };
    if (JSON.stringify(want) !== JSON.stringify(current.autoscale))
      items.push({ action: 'change', target: 'autoscale', from: current.autoscale, to: want, reason: 'the bounds differ' });
  } else if (d.scale !== undefined && (d.scale !== current.webScale || current.autoscale)) {
    items.push({
      action: 'change',
      target: 'scale',
      from: current.autoscale ? current.autoscale : current.webScale,
      to: d.scale,
      reason: current.autoscale ? 'a fixed scale replaces autoscaling' : 'the number of web gears differs',
    });
  }
  const aliases = d.aliases ?? [];
  for (const a of aliases) if (!current.aliases.includes(a)) items.push({ action: 'add', target: `alias ${a}`, reason: 'in the file, not in the app' });
  for (const a of current.aliases) if (!aliases.includes(a)) items.push({ action: 'remove', target: `alias ${a}`, reason: 'in the app, not in the file' });
  if (d.idleAfterSeconds !== undefined && d.idleAfterSeconds !== current.idleAfterSeconds) {
    items.push({ action: 'change', target: 'idleAfterSeconds', from: current.idleAfterSeconds, to: d.idleAfterSeconds, reason: 'the idle time differs' });
  }
  // A file without `health` means the web cartridge's check, as a file without an alias means none.
  const health = d.health ?? null;
  if (JSON.stringify(sortedKeys(health)) !== JSON.stringify(sortedKeys(current.health))) {
    items.push({
      action: 'change',
      target: 'health',
      from: current.health,
      to: health,
      reason: health ? 'the health check differs' : "the file keeps the web cartridge's health check",
    });
  }
  items.push(...serviceItems(current.services ?? {}, d.services ?? {}));
  items.push(...cronItems(current.cron ?? [], d.cron ?? []));
  return { items, refusals };
}

/** A cron entry's fields as the plan compares them: a process of web is the default, as no process is. */
function cronFields(e: CronEntry): Record<string, string> {
  return {
    schedule: e.schedule,
    command: e.command,
    ...(e.process !== undefined && e.process !== 'web' ? { process: e.process } : {}),
    ...(e.service !== undefined ? { service: e.service } : {}),
  };
}

const cronWhere = (f: Record<string, string>) => (f.service ? ` in service ${f.service}` : f.process ? ` in process ${f.process}` : '');

/**
 * The cron entries the file adds, removes and changes against the release that serves. Cron entries run with the
 * release whose gearshift.yml names them, so each takes effect with the next push of the code, as a named service
 * does; the plan says so. An entry is known by its command: the same command on another schedule (or in another
 * process or service) is a change, a command only one side has an addition or a removal.
 */
export function cronItems(current: readonly CronEntry[], wanted: readonly CronEntry[]): PlanItem[] {
  const items: PlanItem[] = [];
  const left = current.map(cronFields);
  const unmatched: Record<string, string>[] = [];
  // Entries the file keeps as they are: nothing to do.
  for (const w of wanted.map(cronFields)) {
    const same = left.findIndex((c) => JSON.stringify(sortedValue(c)) === JSON.stringify(sortedValue(w)));
    if (same >= 0) left.splice(same, 1);
    else unmatched.push(w);
  }
  for (const w of unmatched) {
    const i = left.findIndex((c) => c.command === w.command);
    if (i < 0) {
      items.push({
        action: 'add',
        target: `cron ${w.command}`,
        to: w,
        reason: `a cron entry in the file (${w.schedule}${cronWhere(w)}): the next push of the code schedules it`,
      });
      continue;
    }
    const [now] = left.splice(i, 1);
    const fields = ['schedule', 'process', 'service'].filter((k) => now[k] !== w[k]);
    const said = fields.map((k) => `${k} ${now[k] ?? (k === 'process' ? 'web' : 'none')} → ${w[k] ?? (k === 'process' ? 'web' : 'none')}`).join(', ');
    items.push({
      action: 'change',
      target: `cron ${w.command}`,
      from: Object.fromEntries(fields.map((k) => [k, now[k] ?? null])),
      to: Object.fromEntries(fields.map((k) => [k, w[k] ?? null])),
      reason: `its ${said}: the next push of the code schedules it so`,
    });
  }
  for (const c of left) {
    items.push({
      action: 'remove',
      target: `cron ${c.command}`,
      from: c,
      reason: `in the release that serves (${c.schedule}${cronWhere(c)}), not in the file: the next push of the code stops scheduling it`,
    });
  }
  return items;
}

/**
 * The named services the file adds, removes and changes against the release that serves. They are built from the
 * repository's folders, so each takes effect with the next push of the code; the plan says so. A scale set by hand
 * (PUT .../scale) holds through releases, so the file's does not count against it.
 */
export function serviceItems(current: Record<string, ServiceState>, wanted: Record<string, ServiceDescriptor>): PlanItem[] {
  const items: PlanItem[] = [];
  for (const [name, s] of Object.entries(wanted)) {
    const now = current[name];
    if (!now) {
      items.push({ action: 'add', target: `service ${name}`, to: s.kind, reason: `a ${s.kind} service in the file: the next push of the code starts it` });
      continue;
    }
    const want = serviceStateOf(s);
    const from: Record<string, unknown> = {};
    const to: Record<string, unknown> = {};
    const differs = (field: string, a: unknown, b: unknown) => {
      if (JSON.stringify(sortedValue(a)) === JSON.stringify(sortedValue(b))) return;
      from[field] = a ?? null;
      to[field] = b ?? null;
    };
    differs('kind', now.kind, want.kind);
    differs('image', now.image, want.image);
    differs('build', now.build, want.build);
    differs('command', now.command, want.command);
    differs('env', now.env, want.env);
    differs('port', now.port, want.port);
    differs('hosts', now.hosts, want.hosts);
    // An autoscaled service's count moves with its traffic: its bounds are what the file says.
    if (!now.scaled && (now.autoscale || want.autoscale)) differs('autoscale', now.autoscale, want.autoscale);
    if (!now.scaled && !want.autoscale) differs('scale', now.scale, want.scale);
    const fields = Object.keys(to);
    if (fields.length > 0)
      items.push({
        action: 'change',
        target: `service ${name}`,
        from,
        to,
        reason: `its ${fields.join(', ')} ${fields.length === 1 ? 'differs' : 'differ'}: the next push of the code rolls it out`,
      });
  }
  for (const name of Object.keys(current))
    if (!(name in wanted))
      items.push({ action: 'remove', target: `service ${name}`, reason: 'in the release that serves, not in the file: the next push of the code stops it' });
  return items;
}

/** A service of a file as a release would run it (see planServices in deployments/). */
function serviceStateOf(s: ServiceDescriptor): Omit<ServiceState, 'scaled'> {
  const context = buildContext(s.build);
  const port = servicePort(s);
  return {
    kind: s.kind,
    ...(s.image !== undefined && context === undefined ? { image: s.image } : {}),
    ...(context !== undefined
      ? {
          build: {
            context,
            ...(typeof s.build === 'object' && s.build.dockerfile ? { dockerfile: s.build.dockerfile } : {}),
            ...(typeof s.build === 'object' && s.build.target ? { target: s.build.target } : {}),
          },
        }
      : {}),
    ...(s.command !== undefined ? { command: typeof s.command === 'string' ? s.command : [...s.command] } : {}),
    ...(s.entrypoint !== undefined ? { entrypoint: [...s.entrypoint] } : {}),
    ...(s.workingDir !== undefined ? { workingDir: s.workingDir } : {}),
    env: Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, String(v)])),
    ...(port !== undefined ? { port } : {}),
    ...(s.hosts ? { hosts: [...s.hosts] } : {}),
    scale: s.scale ?? s.autoscale?.min ?? 1,
    ...(s.autoscale && s.kind === 'web'
      ? { autoscale: { min: s.autoscale.min, max: s.autoscale.max, targetConcurrency: s.autoscale.targetConcurrency ?? 10 } }
      : {}),
  };
}

/** Objects compared key by key at every depth; lists as they stand. */
const sortedValue = (v: unknown): unknown =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(
        Object.entries(v)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, x]) => [k, sortedValue(x)]),
      )
    : v;

/** One web cartridge out and one in, of the same family (`nodejs-18` → `nodejs-24`): a runtime version change. */
function runtimeMove(addedWeb: string[], removedWeb: string[]): { from: string; to: string } | null {
  if (addedWeb.length !== 1 || removedWeb.length !== 1) return null;
  const family = cartridgeFamily(addedWeb[0]);
  return family !== null && family === cartridgeFamily(removedWeb[0]) ? { from: removedWeb[0], to: addedWeb[0] } : null;
}

/** Postgres' jsonb keeps its own key order: compare objects key by key. */
const sortedKeys = (o: object | null) => (o ? Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b))) : null);
