#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { createInterface } from 'node:readline';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiClient, CliError, EXIT, type Operation } from './client';
import { configPath, readConfig, writeConfig, type CliConfig } from './config';
import { follow, table } from './output';

/**
 * `gearshift`: the platform from a terminal. Tables for people, --json for scripts, progress on long operations on
 * stderr, and exit codes: 0 done, 1 the operation failed, 2 bad usage, 3 the broker refused, 4 broker unreachable.
 */

interface Globals {
  json?: boolean;
  server?: string;
  domain?: string;
  wait?: boolean;
}

const program = new Command('gearshift')
  .description('Drive a Gearshift platform: domains, apps, cartridges, environment, scaling, nodes.')
  .addOption(new Option('--server <url>', 'the broker (default: the one you logged in to, or http://127.0.0.1:8080)').env('GEARSHIFT_SERVER'))
  .option('--json', 'print JSON for scripts instead of tables')
  .showHelpAfterError('(add --help for usage)')
  .configureOutput({ outputError: (str, write) => write(str) });

const globals = (): Globals => program.opts<Globals>();
const config = (): CliConfig => readConfig();
const server = () => globals().server ?? config().server ?? 'http://127.0.0.1:8080';
const api = () => new ApiClient(server(), config().token);

function domainOf(opts: { domain?: string }): string {
  const domain = opts.domain ?? config().domain;
  if (!domain) throw new CliError('no domain: pass --domain NAME, or create one with: gearshift domains create NAME', EXIT.usage);
  return domain;
}

function print(value: unknown, render: () => string): void {
  console.log(globals().json ? JSON.stringify(value, null, 2) : render());
}

/** Sends a change, follows its operation (unless --no-wait), and prints the resource. */
async function change(method: string, path: string, body: unknown, opts: { wait?: boolean }, render: (res: any) => string): Promise<void> {
  const res = await api().call<any>(method, path, body);
  let op: Operation | undefined = res?.operation;
  if (op && opts.wait !== false) op = await follow(api(), op, Boolean(globals().json));
  const latest = res?.deleted ? res : await api().call<any>('GET', path.replace(/\/(actions|env|scale|cartridges)(\/.*)?$/, '').replace(/\?.*$/, '')).catch(() => res);
  print({ ...latest, operation: op }, () => render(latest));
  if (op?.state === 'failed') process.exitCode = EXIT.operationFailed;
}

const appTable = (apps: any[]) =>
  table(
    apps.map((a) => ({ name: a.name, status: a.status, cartridges: a.cartridges.join(','), scale: a.scale, url: a.url })),
    ['name', 'status', 'cartridges', 'scale', 'url'],
  );

function showApp(a: any): string {
  const lines = [
    `${a.name} (${a.domain})  ${a.status}`,
    `  url         ${a.url}`,
    `  cartridges  ${a.cartridges.join(', ')}`,
    `  size        ${a.size}, ${a.scale} web gear(s)${a.autoscale ? `, autoscaling ${a.autoscale.min}..${a.autoscale.max}` : ''}${a.idleAfterSeconds ? `, idles after ${a.idleAfterSeconds} s` : ''}`,
    '',
    table(a.gears.map((g: any) => ({ gear: g.id.slice(0, 8), cartridge: g.cartridge, node: g.node, state: g.state, endpoint: g.endpoints?.http ?? '' })), ['gear', 'cartridge', 'node', 'state', 'endpoint']),
  ];
  return lines.join('\n');
}

async function readSecret(prompt: string, fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
    if (s.startsWith(prompt)) process.stderr.write(prompt);
  };
  const answer = await new Promise<string>((resolve) => rl.question(prompt, resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

// ---- login -------------------------------------------------------------------------------------------------------

program
  .command('login')
  .description('log in and keep the token in your config directory (mode 0600)')
  .option('-u, --username <name>', 'user name', 'admin')
  .option('--password-stdin', 'read the password from standard input (for scripts)')
  .action(async (opts: { username: string; passwordStdin?: boolean }) => {
    const password = await readSecret('Password: ', Boolean(opts.passwordStdin));
    const res = await new ApiClient(server()).call<{ token: string; expiresAt: string }>('POST', '/auth/login', { username: opts.username, password });
    writeConfig({ ...config(), server: server(), token: res.token, username: opts.username });
    print({ server: server(), username: opts.username, expiresAt: res.expiresAt }, () => `Logged in to ${server()} as ${opts.username} (token kept in ${configPath()}).`);
  });

// ---- domains -----------------------------------------------------------------------------------------------------

const domains = program.command('domains').description('namespaces of apps');
domains
  .command('list', { isDefault: true })
  .description('list your domains')
  .action(async () => {
    const list = await api().call<any[]>('GET', '/domains');
    const current = config().domain;
    print(list, () => table(list.map((d) => ({ name: d.name, default: d.name === current ? '*' : '', created: d.createdAt })), ['name', 'default', 'created']));
  });
domains
  .command('create <name>')
  .description('create a domain (it becomes your default when you have none)')
  .action(async (name: string) => {
    const d = await api().call('POST', '/domains', { name });
    if (!config().domain) writeConfig({ ...config(), domain: name });
    print(d, () => `Created domain ${name}.`);
  });
domains
  .command('use <name>')
  .description('make a domain the default for later commands')
  .action(async (name: string) => {
    await api().call('GET', `/domains/${encodeURIComponent(name)}`);
    writeConfig({ ...config(), domain: name });
    print({ domain: name }, () => `Commands now use domain ${name}.`);
  });
domains
  .command('delete <name>')
  .description('delete an empty domain')
  .action(async (name: string) => {
    await api().call('DELETE', `/domains/${encodeURIComponent(name)}`);
    if (config().domain === name) writeConfig({ ...config(), domain: undefined });
    print({ deleted: name }, () => `Deleted domain ${name}.`);
  });

// ---- apps --------------------------------------------------------------------------------------------------------

const collect = (v: string, acc: string[]) => [...acc, v];
const domainOption = () => new Option('-d, --domain <name>', 'the domain (default: your default domain)');
const noWait = () => new Option('--no-wait', 'return at once instead of following the operation');
const appPath = (opts: { domain?: string }, app: string) => `/domains/${encodeURIComponent(domainOf(opts))}/apps/${encodeURIComponent(app)}`;

const apps = program.command('apps').description('create, inspect and manage apps');
apps
  .command('list', { isDefault: true })
  .description('list the apps of a domain')
  .addOption(domainOption())
  .action(async (opts: { domain?: string }) => {
    const list = await api().call<any[]>('GET', `/domains/${encodeURIComponent(domainOf(opts))}/apps`);
    print(list, () => appTable(list));
  });
apps
  .command('create <name>')
  .description('create an app from cartridges, e.g. -c nodejs-18 -c postgresql-15')
  .addOption(domainOption())
  .requiredOption('-c, --cartridge <name>', 'a cartridge (repeat for more)', collect, [])
  .option('--scale <n>', 'web gears', (v) => Number(v))
  .option('--size <size>', 'gear size: small, medium or large')
  .option('-e, --env <NAME=value>', 'an environment variable (repeat for more)', collect, [])
  .addOption(noWait())
  .action(async (name: string, opts: { domain?: string; cartridge: string[]; scale?: number; size?: string; env: string[]; wait?: boolean }) => {
    const env = Object.fromEntries(opts.env.map(parseAssignment));
    const body = { name, cartridges: opts.cartridge, ...(opts.scale ? { scale: opts.scale } : {}), ...(opts.size ? { size: opts.size } : {}), ...(opts.env.length ? { env } : {}) };
    const res = await api().call<any>('POST', `/domains/${encodeURIComponent(domainOf(opts))}/apps`, body);
    let op: Operation = res.operation;
    if (opts.wait !== false) op = await follow(api(), op, Boolean(globals().json));
    const app = await api().call('GET', appPath(opts, name));
    print({ ...app, operation: op }, () => showApp(app));
    if (op.state === 'failed') process.exitCode = EXIT.operationFailed;
  });
apps
  .command('show <name>')
  .description('an app: status, URL, cartridges, gears')
  .addOption(domainOption())
  .action(async (name: string, opts: { domain?: string }) => {
    const app = await api().call('GET', appPath(opts, name));
    print(app, () => showApp(app));
  });
for (const action of ['start', 'stop', 'restart'] as const) {
  apps
    .command(`${action} <name>`)
    .description(`${action} an app's gears`)
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (name: string, opts: { domain?: string; wait?: boolean }) => {
      await change('POST', `${appPath(opts, name)}/actions`, { action }, opts, showApp);
    });
}
apps
  .command('delete <name>')
  .description('delete an app with its gears and data')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (name: string, opts: { domain?: string; wait?: boolean }) => {
    await change('DELETE', appPath(opts, name), undefined, opts, () => `Deleted app ${name}.`);
  });
apps
  .command('operations <name>')
  .description("an app's operations, newest first, and why they happened")
  .addOption(domainOption())
  .action(async (name: string, opts: { domain?: string }) => {
    const ops = await api().call<any[]>('GET', `${appPath(opts, name)}/operations`);
    print(ops, () => table(ops.map((o) => ({ when: o.createdAt, kind: o.kind, by: o.by, state: o.state, what: o.steps[0]?.text })), ['when', 'kind', 'by', 'state', 'what']));
  });

// ---- cartridges --------------------------------------------------------------------------------------------------

const cartridges = program.command('cartridges').description('the catalogue, and the cartridges of an app');
cartridges
  .command('list', { isDefault: true })
  .description('the catalogue')
  .action(async () => {
    const list = await api().call<any[]>('GET', '/cartridges');
    print(list, () => table(list.map((c) => ({ name: c.name, categories: c.categories.join(','), version: c.version, description: c.displayName })), ['name', 'categories', 'version', 'description']));
  });
cartridges
  .command('add <app> <cartridge>')
  .description('embed a cartridge in an app (its variables reach the web gears)')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (app: string, cartridge: string, opts: { domain?: string; wait?: boolean }) => {
    await change('POST', `${appPath(opts, app)}/cartridges`, { cartridge }, opts, showApp);
  });
cartridges
  .command('remove <app> <cartridge>')
  .description('remove a cartridge and its data from an app')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (app: string, cartridge: string, opts: { domain?: string; wait?: boolean }) => {
    await change('DELETE', `${appPath(opts, app)}/cartridges/${encodeURIComponent(cartridge)}`, undefined, opts, showApp);
  });

// ---- env ---------------------------------------------------------------------------------------------------------

function parseAssignment(s: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new CliError(`"${s}" is not NAME=value`, EXIT.usage);
  return [s.slice(0, i), s.slice(i + 1)];
}

const env = program.command('env').description("an app's environment variables (the gears restart with new values)");
env
  .command('list <app>', { isDefault: true })
  .description("your variables and those the app's services publish (DATABASE_URL...); secret values masked")
  .addOption(domainOption())
  .option('--reveal', 'show the values of secret variables (generated passwords); with --json, every variable the web gears see')
  .action(async (app: string, opts: { domain?: string; reveal?: boolean }) => {
    type Published = { name: string; value: string; from: string };
    const res = await api().call<{ env: Record<string, string>; published?: Published[] }>('GET', `${appPath(opts, app)}/env${opts.reveal ? '?reveal=true' : ''}`);
    const published = res.published ?? [];
    // Without --reveal, --json keeps printing only your own variables, as scripts have read them so far.
    const json = opts.reveal ? { ...Object.fromEntries([...published].reverse().map((p) => [p.name, p.value])), ...res.env } : res.env;
    const rows = [...Object.entries(res.env).map(([name, value]) => ({ name, value, from: 'you' })), ...published.map((p) => ({ name: p.name, value: p.value, from: p.from }))];
    print(json, () => table(rows, ['name', 'value', 'from']));
  });
env
  .command('set <app> <assignments...>')
  .description('set variables: NAME=value ...')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (app: string, assignments: string[], opts: { domain?: string; wait?: boolean }) => {
    await change('PATCH', `${appPath(opts, app)}/env`, Object.fromEntries(assignments.map(parseAssignment)), opts, (a) => `Set ${assignments.map((x) => x.split('=')[0]).join(', ')} on ${a.name}.`);
  });
env
  .command('unset <app> <names...>')
  .description('remove variables')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (app: string, names: string[], opts: { domain?: string; wait?: boolean }) => {
    await change('PATCH', `${appPath(opts, app)}/env`, Object.fromEntries(names.map((n) => [n, null])), opts, (a) => `Unset ${names.join(', ')} on ${a.name}.`);
  });

// ---- scale -------------------------------------------------------------------------------------------------------

program
  .command('scale <app> [replicas]')
  .description('set the number of web gears, or autoscale with --min and --max')
  .addOption(domainOption())
  .option('--min <n>', 'autoscale: fewest gears', (v) => Number(v))
  .option('--max <n>', 'autoscale: most gears', (v) => Number(v))
  .option('--target <n>', 'autoscale: concurrent requests a gear should carry', (v) => Number(v))
  .addOption(noWait())
  .action(async (app: string, replicas: string | undefined, opts: { domain?: string; min?: number; max?: number; target?: number; wait?: boolean }) => {
    const body =
      opts.min !== undefined || opts.max !== undefined
        ? { min: opts.min ?? 1, max: opts.max ?? opts.min ?? 1, ...(opts.target ? { targetConcurrency: opts.target } : {}) }
        : replicas !== undefined
          ? { replicas: Number(replicas) }
          : null;
    if (!body) throw new CliError('give a number of gears, or --min and --max', EXIT.usage);
    await change('PUT', `${appPath(opts, app)}/scale`, body, opts, showApp);
  });

// ---- apply -------------------------------------------------------------------------------------------------------

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

program
  .command('apply')
  .description('show the plan for a gearshift.yml, then converge the app to it')
  .addOption(domainOption())
  .option('-f, --file <path>', 'the descriptor', 'gearshift.yml')
  .option('--dry-run', 'only show the plan')
  .option('-y, --yes', 'do not ask before a change that loses data (for scripts)')
  .addOption(noWait())
  .action(async (opts: { domain?: string; file: string; dryRun?: boolean; yes?: boolean; wait?: boolean }) => {
    const { readFileSync } = await import('node:fs');
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch {
      throw new CliError(`cannot read ${opts.file}`, EXIT.usage);
    }
    const base = `/domains/${encodeURIComponent(domainOf(opts))}/apply`;
    const raw = async (query: string) => {
      const res = await fetch(`${server().replace(/\/$/, '')}/api/v1${base}${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${config().token ?? ''}`, 'content-type': 'text/yaml' },
        body: text,
      }).catch((err: Error) => {
        throw new CliError(`cannot reach the broker at ${server()} (${err.message})`, EXIT.unreachable);
      });
      const body = (await res.json()) as any;
      if (!res.ok) throw new CliError(body.message ?? `${res.status}`, res.status >= 500 ? EXIT.unreachable : EXIT.refused, body.details ?? []);
      return body;
    };
    const plan = await raw('?dryRun=true');
    const items: any[] = plan.plan;
    if (!globals().json || opts.dryRun) {
      print(plan, () =>
        items.length === 0
          ? `${plan.app} already is what ${opts.file} says.`
          : [`Plan for ${plan.app}:`, ...items.map((i) => `  ${i.action === 'remove' ? '-' : i.action === 'add' || i.action === 'create' ? '+' : '~'} ${i.target}  (${i.reason})${i.loses ? `  LOSES ${i.loses}` : ''}`)].join('\n'),
      );
    }
    if (opts.dryRun || items.length === 0) return;
    let allowDataLoss = false;
    if (plan.losesData) {
      allowDataLoss = Boolean(opts.yes) || (await confirm('This plan deletes data. Go ahead?'));
      if (!allowDataLoss) throw new CliError('not applied: the plan deletes data (confirm, or pass --yes)', EXIT.refused);
    }
    const res = await raw(`?allowDataLoss=${allowDataLoss}`);
    let op: Operation | null = res.operation;
    if (op && opts.wait !== false) op = await follow(api(), op, Boolean(globals().json));
    if (globals().json) console.log(JSON.stringify({ ...res, operation: op }, null, 2));
    if (op?.state === 'failed') process.exitCode = EXIT.operationFailed;
  });

// ---- import ------------------------------------------------------------------------------------------------------

program
  .command('import [file]')
  .description('read a docker-compose.yml / compose.yaml: what each service becomes, what is not supported, what stops it')
  .option('--env-file <path>', 'values for ${VAR} interpolation (default: .env beside the file)')
  .option('--apply <app>', 'create (or converge) the app NAME from it in the current domain')
  .addOption(domainOption())
  .action(async (file: string | undefined, opts: { envFile?: string; apply?: string; domain?: string }) => {
    const { existsSync, readFileSync } = await import('node:fs');
    const { dirname, join } = await import('node:path');
    const { importCompose, parseDotEnv } = await import('@gearshift/cartridges');
    const path = file ?? ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'].find((f) => existsSync(f));
    if (!path || !existsSync(path)) throw new CliError(`no compose file: ${path ?? 'none of compose.yaml, docker-compose.yml here'}`, EXIT.usage);
    const envPath = opts.envFile ?? join(dirname(path), '.env');
    const env = existsSync(envPath) ? parseDotEnv(readFileSync(envPath, 'utf8')) : {};
    const r = importCompose(readFileSync(path, 'utf8'), { env, admin: false });
    print(r, () => {
      const rows = r.services.map((s) => ({
        service: s.service,
        becomes: s.becomes.kind === 'cartridge' ? `cartridge ${s.becomes.cartridge}` : `container ${s.becomes.image ?? `(build ${s.becomes.build?.context})`}`,
        ports: s.ports.map((p) => (p.published ? `${p.published}:${p.target}` : p.target)).join(' '),
        depends: s.dependsOn.map((d) => `${d.service}${d.condition === 'service_healthy' ? ' (healthy)' : ''}`).join(' '),
      }));
      const lines = [table(rows, ['service', 'becomes', 'ports', 'depends'])];
      const notes = r.services.flatMap((s) => s.notes.map((n) => `  ${s.service}: ${n}`));
      if (notes.length) lines.push('', 'Notes:', ...notes);
      if (r.unsupported.length) lines.push('', 'Not supported (not imported):', ...r.unsupported.map((u) => `  ${u.pointer}: ${u.reason}`));
      if (r.warnings.length) lines.push('', 'Warnings:', ...r.warnings.map((w) => `  ${w.pointer} ${w.reason}`));
      const names = (r.cartridges ?? []).map((c) => (typeof c === 'string' ? c : `${c.name} (${c.image})`));
      lines.push('', r.blockers.length ? 'What stops it here:' : `Runs here as an app with ${names.join(', ')}.`, ...r.blockers.map((b) => `  ${b.pointer}: ${b.reason}`));
      return lines.join('\n');
    });
    if (r.blockers.length > 0) {
      process.exitCode = EXIT.refused;
      return;
    }
    if (opts.apply) {
      const descriptor = JSON.stringify({ name: opts.apply, cartridges: r.cartridges });
      const res = await api().call<any>('POST', `/domains/${encodeURIComponent(domainOf(opts))}/apply`, JSON.parse(descriptor));
      let op: Operation | null = res.operation;
      if (op) op = await follow(api(), op, Boolean(globals().json));
      if (!globals().json) console.log(op ? `${opts.apply}: ${op.state}${op.error ? ` (${op.error})` : ''}` : `${opts.apply} is unchanged.`);
      if (op?.state === 'failed') process.exitCode = EXIT.operationFailed;
    }
  });

// ---- nodes -------------------------------------------------------------------------------------------------------

const nodes = program.command('nodes').description("operators: the platform's hosts");
nodes
  .command('list', { isDefault: true })
  .action(async () => {
    const list = await api().call<any[]>('GET', '/nodes');
    print(list, () =>
      table(
        list.map((n) => ({ name: n.name, state: n.state, ready: n.ready ? 'yes' : 'no', gears: `${n.allocated.gears}/${n.capacity.maxGears}`, memory: `${n.allocated.memoryMb}/${n.capacity.memoryMb} MB`, heartbeat: n.lastHeartbeat })),
        ['name', 'state', 'ready', 'gears', 'memory', 'heartbeat'],
      ),
    );
  });
nodes
  .command('drain <node>')
  .description('place no new gears on a node')
  .action(async (node: string) => {
    const n = await api().call('POST', `/nodes/${encodeURIComponent(node)}/drain`);
    print(n, () => `Node ${node} is draining: it gets no new gears.`);
  });

// ---- operations --------------------------------------------------------------------------------------------------

// ---- deploying code ----------------------------------------------------------------------------------------------

/**
 * The files a deployment takes from a directory: what git would (tracked files and untracked ones .gitignore does
 * not exclude), in a repository or not.
 */
function sourceFiles(dir: string): string[] {
  const inRepo = spawnSync('git', ['-C', dir, 'rev-parse', '--is-inside-work-tree'], { encoding: 'utf8' }).stdout.trim() === 'true';
  const scratch = inRepo ? undefined : mkdtempSync(join(tmpdir(), 'gearshift-index-'));
  try {
    if (scratch) spawnSync('git', ['init', '-q', '--bare', scratch]);
    const r = spawnSync('git', ['-C', dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      // Outside a repository, an empty index of our own: everything is "untracked", and .gitignore still applies.
      env: scratch ? { ...process.env, GIT_DIR: scratch, GIT_WORK_TREE: dir } : process.env,
    });
    if (r.status !== 0) throw new CliError(`cannot list the files of ${dir}: ${r.stderr.trim()}`, EXIT.usage);
    return r.stdout.split('\0').filter((f) => f && existsSync(join(dir, f)));
  } finally {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
}

async function followDeployment(opId: string): Promise<Operation> {
  for await (const chunk of api().stream(`/operations/${opId}/log?follow=true`)) {
    if (!globals().json) process.stderr.write(chunk);
  }
  return api().call<Operation>('GET', `/operations/${opId}`);
}

program
  .command('deploy <app> [dir]')
  .description('deploy a directory (default: the current one): tars what git would take, honouring .gitignore, and streams the build and rollout')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (app: string, dir: string | undefined, opts: { domain?: string; wait?: boolean }) => {
    const root = resolve(dir ?? '.');
    if (!existsSync(root)) throw new CliError(`no directory ${root}`, EXIT.usage);
    const files = sourceFiles(root);
    if (files.length === 0) throw new CliError(`${root} has no files to deploy`, EXIT.usage);
    const tar = spawnSync('tar', ['-czf', '-', '-C', root, '--null', '-T', '-'], { input: files.join('\0'), cwd: root, maxBuffer: 1024 * 1024 * 1024 });
    if (tar.status !== 0) throw new CliError(`tar failed: ${tar.stderr.toString().trim()}`, EXIT.usage);
    if (!globals().json) process.stderr.write(`-----> uploading ${files.length} file(s), ${(tar.stdout.length / 1024).toFixed(0)} KB\n`);
    const res = await api().upload<any>(`${appPath(opts, app)}/deployments`, tar.stdout, 'application/gzip');
    const op = opts.wait === false ? res.operation : await followDeployment(res.operation.id);
    const deployment = await api().call<any>('GET', `${appPath(opts, app)}/deployments/${res.deployment.number}`);
    delete deployment.log;
    print({ ...deployment, operation: op }, () => `release ${deployment.number}: ${deployment.state}${deployment.error ? ` (${deployment.error})` : ''}`);
    if (op.state === 'failed') process.exitCode = EXIT.operationFailed;
  });

program
  .command('deployments <app>')
  .description("an app's releases, newest first")
  .addOption(domainOption())
  .action(async (app: string, opts: { domain?: string }) => {
    const list = await api().call<any[]>('GET', `${appPath(opts, app)}/deployments`);
    print(list, () =>
      table(
        list.map((d) => ({
          release: `${d.number}${d.active ? ' *' : ''}`,
          state: d.state,
          source: d.source.commit ? `${d.source.kind} ${d.source.commit.slice(0, 10)}` : d.source.kind,
          built: d.dockerfile ?? '-',
          created: d.createdAt,
          error: d.error ? d.error.split('\n')[0].slice(0, 60) : '',
        })),
        ['release', 'state', 'source', 'built', 'created', 'error'],
      ),
    );
  });

program
  .command('rollback <app> <release>')
  .description('serve an earlier release again, without a rebuild')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (app: string, release: string, opts: { domain?: string; wait?: boolean }) => {
    await change('POST', `${appPath(opts, app)}/deployments/${encodeURIComponent(release)}/activate`, undefined, opts, () => `Release ${release} of ${app} is active.`);
  });

program
  .command('logs <app>')
  .description("the output of every gear, each line tagged with its cartridge and gear")
  .addOption(domainOption())
  .option('-f, --follow', 'keep streaming new lines (Ctrl-C stops)')
  .option('-n, --tail <lines>', 'lines of each gear to start with', '100')
  .action(async (app: string, opts: { domain?: string; follow?: boolean; tail: string }) => {
    for await (const chunk of api().stream(`${appPath(opts, app)}/logs?tail=${encodeURIComponent(opts.tail)}&follow=${opts.follow ? 'true' : 'false'}`)) process.stdout.write(chunk);
  });

const snapshots = program.command('snapshots').description("an app's data (database dumps, cache keys, volume files) as one .tar.gz");
snapshots
  .command('take <app>')
  .description('download a snapshot of the app\'s data')
  .addOption(domainOption())
  .option('-o, --output <file>', 'where to write it (default: the name the broker suggests)')
  .action(async (app: string, opts: { domain?: string; output?: string }) => {
    if (!globals().json) process.stderr.write(`-----> taking a snapshot of ${app}\n`);
    const { data, filename } = await api().download('POST', `${appPath(opts, app)}/snapshots`);
    const file = opts.output ?? filename ?? `${app}.tar.gz`;
    writeFileSync(file, data, { mode: 0o600 });
    print({ file, bytes: data.length }, () => `Wrote ${file} (${(data.length / 1024).toFixed(0)} KB).`);
  });
snapshots
  .command('restore <app> <file>')
  .description('put a snapshot\'s data back, into this app or another with the same cartridges')
  .addOption(domainOption())
  .addOption(noWait())
  .action(async (app: string, file: string, opts: { domain?: string; wait?: boolean }) => {
    if (!existsSync(file)) throw new CliError(`no file ${file}`, EXIT.usage);
    const res = await api().upload<any>(`${appPath(opts, app)}/snapshots/restore`, readFileSync(file), 'application/gzip');
    let op: Operation = res.operation;
    if (opts.wait !== false) op = await follow(api(), op, Boolean(globals().json));
    print({ ...res, operation: op }, () => `Restored ${res.restores.join(', ')} into ${app}.`);
    if (op.state === 'failed') process.exitCode = EXIT.operationFailed;
  });

program
  .command('operations')
  .description('follow or show an operation')
  .command('show <id>')
  .action(async (id: string) => {
    const op = await api().call<Operation>('GET', `/operations/${encodeURIComponent(id)}`);
    const done = await follow(api(), op, Boolean(globals().json), 0);
    print(done, () => `${done.kind}: ${done.state}${done.error ? ` (${done.error})` : ''}`);
  });

async function main(): Promise<void> {
  program.exitOverride();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT.usage;
      return;
    }
    if (err instanceof CliError) {
      if (globals().json) console.log(JSON.stringify({ error: err.message, details: err.details }, null, 2));
      console.error(`error: ${err.message}`);
      for (const d of err.details) console.error(`  ${d.pointer || '/'}: ${d.message}`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
}

void main();
