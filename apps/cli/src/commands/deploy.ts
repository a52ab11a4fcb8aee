import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Deployment, DeploymentChange, Operation } from '../api-types';
import { CliError, EXIT } from '../client';
import type { CliContext, DomainOpts, WaitOpts } from '../context';
import { domainOption, noWait } from '../options';

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

/** Streams the build and rollout output to stderr (unless --json) until the deployment's operation ends. */
async function followDeployment(ctx: CliContext, opId: string): Promise<Operation> {
  for await (const chunk of ctx.api().stream(`/operations/${opId}/log?follow=true`)) {
    if (!ctx.json) process.stderr.write(chunk);
  }
  return ctx.api().operation(opId);
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('deploy <app> [dir]')
    .description('deploy a directory (default: the current one): tars what git would take, honouring .gitignore, and streams the build and rollout')
    .addOption(domainOption())
    .addOption(noWait())
    .action(async (app: string, dir: string | undefined, opts: DomainOpts & WaitOpts) => {
      const root = resolve(dir ?? '.');
      if (!existsSync(root)) throw new CliError(`no directory ${root}`, EXIT.usage);
      const files = sourceFiles(root);
      if (files.length === 0) throw new CliError(`${root} has no files to deploy`, EXIT.usage);
      const tar = spawnSync('tar', ['-czf', '-', '-C', root, '--null', '-T', '-'], { input: files.join('\0'), cwd: root, maxBuffer: 1024 * 1024 * 1024 });
      if (tar.status !== 0) throw new CliError(`tar failed: ${tar.stderr.toString().trim()}`, EXIT.usage);
      if (!ctx.json) process.stderr.write(`-----> uploading ${files.length} file(s), ${(tar.stdout.length / 1024).toFixed(0)} KB\n`);
      const res = await ctx.api().upload<DeploymentChange>(`${ctx.appPath(opts, app)}/deployments`, tar.stdout, 'application/gzip');
      if (!res.deployment) throw new CliError(`the broker made no release of ${app}`, EXIT.unreachable);
      const op = opts.wait === false ? res.operation : await followDeployment(ctx, res.operation.id);
      // The release as it ended, without its log: the log has just been streamed.
      const deployment = await ctx.api().get<Deployment>(`${ctx.appPath(opts, app)}/deployments/${res.deployment.number}`);
      delete deployment.log;
      ctx.print({ ...deployment, operation: op }, () => `release ${deployment.number}: ${deployment.state}${deployment.error ? ` (${deployment.error})` : ''}`);
      if (op.state === 'failed') process.exitCode = EXIT.operationFailed;
    });
}
