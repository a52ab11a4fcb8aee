import type { ComposeImport } from '@gearshift/cartridges';
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { ApplyResult } from '../api-types';
import { CliError, EXIT } from '../client';
import type { CliContext, DomainOpts } from '../context';
import { domainOption } from '../options';
import { table } from '../output';

const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];

/** What a compose service becomes among the app's services (`web service` ...), when it becomes one. */
function kindOf(r: ComposeImport, service: string): string | undefined {
  const own = r.appServices?.[service.toLowerCase().replace(/_/g, '-')];
  return own ? `${own.kind} service` : undefined;
}

/** `file`: the compose file read, which names what stops the whole of it (a file over the YAML limits). */
export function showImport(r: ComposeImport, file = 'the compose file'): string {
  const rows = r.services.map((s) => ({
    service: s.service,
    becomes:
      s.becomes.kind === 'cartridge'
        ? `cartridge ${s.becomes.cartridge}`
        : `${kindOf(r, s.service) ?? 'container'} ${s.becomes.build ? `(build ${s.becomes.build.context})` : s.becomes.image}`,
    ports: s.ports.map((p) => (p.published ? `${p.published}:${p.target}` : p.target)).join(' '),
    depends: s.dependsOn.map((d) => `${d.service}${d.condition === 'service_healthy' ? ' (healthy)' : ''}`).join(' '),
  }));
  const lines = [table(rows, ['service', 'becomes', 'ports', 'depends'])];
  const notes = r.services.flatMap((s) => s.notes.map((n) => `  ${s.service}: ${n}`));
  if (notes.length) lines.push('', 'Notes:', ...notes);
  if (r.unsupported.length) lines.push('', 'Not supported (not imported):', ...r.unsupported.map((u) => `  ${u.pointer}: ${u.reason}`));
  if (r.warnings.length) lines.push('', 'Warnings:', ...r.warnings.map((w) => `  ${w.pointer} ${w.reason}`));
  const names = [
    ...(r.cartridges ?? []).map((c) => (typeof c === 'string' ? c : c.image ? `${c.name} (${c.image})` : c.name)),
    ...Object.entries(r.appServices ?? {}).map(([name, s]) => `${s.kind} service ${name}`),
  ];
  lines.push(
    '',
    r.blockers.length ? 'What stops it here:' : `Runs here as an app with ${names.join(', ')}.${builtServices(r).length ? ` ${pushCodeHint(r)}` : ''}`,
    ...r.blockers.map((b) => `  ${b.pointer || file}: ${b.reason}`),
  );
  return lines.join('\n');
}

/** The app's services built from folders of its repository: they have no image until its code is pushed. */
function builtServices(r: ComposeImport): string[] {
  return Object.entries(r.appServices ?? {}).flatMap(([name, svc]) => (svc.build ? [name] : []));
}

/** What to do after creating an app whose services are built from its code. */
const pushCodeHint = (r: ComposeImport): string =>
  `${builtServices(r).join(', ')} ${builtServices(r).length === 1 ? 'is' : 'are'} built from the repository: push its code (git push, or gearshift deploy) to run them; until then the app answers 404.`;

export function register(program: Command, ctx: CliContext): void {
  program
    .command('import [file]')
    .description('read a docker-compose.yml / compose.yaml: what each service becomes, what is not supported, what stops it')
    .option('--env-file <path>', 'values for ${VAR} interpolation (default: .env beside the file)')
    .option('--apply <app>', 'create (or converge) the app NAME from it in the current domain')
    .addOption(domainOption())
    .action(async (file: string | undefined, opts: DomainOpts & { envFile?: string; apply?: string }) => {
      // Loaded only here: the compose reader and its schemas are the heaviest part of the CLI.
      const { importCompose, parseDotEnv } = await import('@gearshift/cartridges');
      const path = file ?? COMPOSE_FILES.find((f) => existsSync(f));
      if (!path || !existsSync(path)) throw new CliError(`no compose file: ${path ?? 'none of compose.yaml, docker-compose.yml here'}`, EXIT.usage);
      const envPath = opts.envFile ?? join(dirname(path), '.env');
      const env = existsSync(envPath) ? parseDotEnv(readFileSync(envPath, 'utf8')) : {};
      const r = importCompose(readFileSync(path, 'utf8'), { env });
      ctx.print(r, () => showImport(r, basename(path)));
      if (r.blockers.length > 0) {
        process.exitCode = EXIT.refused;
        return;
      }
      if (opts.apply) {
        const res = await ctx.api().post<ApplyResult>(`${ctx.domainPath(opts)}/apply`, {
          name: opts.apply,
          cartridges: r.cartridges,
          ...(r.appServices ? { services: r.appServices } : {}),
        });
        let op = res.operation;
        if (op) op = await ctx.follow(op);
        if (!ctx.json) console.log(op ? `${opts.apply}: ${op.state}${op.error ? ` (${op.error})` : ''}` : `${opts.apply} is unchanged.`);
        if (!ctx.json && op?.state !== 'failed' && builtServices(r).length) console.log(pushCodeHint(r));
        if (op?.state === 'failed') process.exitCode = EXIT.operationFailed;
      }
    });
}
