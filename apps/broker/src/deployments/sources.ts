import { Inject, Injectable } from '@nestjs/common';
import { execFile } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  composeDescriptor,
  importCompose,
  parseDescriptor,
  SchemaViolationError,
  YamlLimitError,
  type AppDescriptor,
  type ArchiveSummary,
} from '@gearshift/cartridges';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { GearshiftError, notFound, ruleViolation } from '../common/errors';
import { DeploymentsRepository } from '../apps/deployments.repository';
import { FetchGuard } from './fetch-guard';
import { HOOK_NAMES, type DeploymentSource, type HookName } from '../apps/deployment.entity';

const run = promisify(execFile);

export interface SourceUpload {
  archive: Buffer;
  kind: DeploymentSource['kind'];
  commit?: string;
  ref?: string;
  url?: string;
}

/**
 * The source of a deployment: fetched from git or uploaded, read for its gearshift.yml and hooks, and kept in the
 * data directory until the node that builds it has fetched it once with the job's token.
 */
/** The compose files a source may carry, in the order they are looked for. */
const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

@Injectable()
export class DeploymentSources {
  constructor(
    private readonly deploymentsRepository: DeploymentsRepository,
    private readonly guard: FetchGuard,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  path(id: string): string {
    return join(this.config.dataDir, 'sources', `${id}.tar.gz`);
  }

  /** The source archive, once, to the node building it; the token in the URL is the only credential. */
  async source(id: string, token: string): Promise<NodeJS.ReadableStream> {
    const d = /^[0-9a-f-]{36}$/.test(id) ? await this.deploymentsRepository.findById(id) : null;
    const ok = d?.sourceToken && token.length === d.sourceToken.length && timingSafeEqual(Buffer.from(token), Buffer.from(d.sourceToken));
    if (!d || !ok || !existsSync(this.path(id))) throw notFound(`source of deployment "${id}"`);
    return createReadStream(this.path(id));
  }

  /**
   * Fetches a git repository at a ref and packs it like an upload. The caller has checked that the user may deploy
   * the app; the URL's host is checked here, before anything connects (fetch-guard.ts).
   */
  async fromGit(url: string, ref: string): Promise<SourceUpload> {
    const checked = await this.guard.check(url);
    // The first deployment of a platform may come from git, before any upload made the folder.
    mkdirSync(join(this.config.dataDir, 'sources'), { recursive: true });
    const dir = mkdtempSync(join(this.config.dataDir, 'sources', 'git-'));
    // A server that stops sending is given up on after a minute of silence, not only at the overall timeout.
    // GIT_ALLOW_PROTOCOL: git speaks only the checked URL's protocol, never file:: or ext:: (say, for a submodule).
    const env = {
      GIT_HTTP_LOW_SPEED_LIMIT: '1',
      GIT_HTTP_LOW_SPEED_TIME: '60',
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: 'true',
      GIT_ALLOW_PROTOCOL: new URL(checked.url).protocol.slice(0, -1),
    };
    try {
      try {
        await run('git', [...checked.gitConfig, 'clone', '--quiet', '--depth', '1', '--branch', ref, '--', checked.url, join(dir, 'repo')], {
          env,
          timeout: 120000,
        });
      } catch (err) {
        const msg = ((err as { stderr?: string }).stderr || (err as Error).message).trim().split('\n').slice(-2).join(' ');
        throw ruleViolation('/git/url', 'reachable', `git could not fetch ${redactUrl(url)} at ${ref}: ${redactUrl(msg)}`);
      }
      const { stdout: commit } = await run('git', ['-C', join(dir, 'repo'), 'rev-parse', 'HEAD'], { env });
      await run('git', ['-C', join(dir, 'repo'), 'archive', '--format=tar.gz', '-o', join(dir, 'source.tar.gz'), 'HEAD'], { env, maxBuffer: 1 << 20 });
      return { archive: readFileSync(join(dir, 'source.tar.gz')), kind: 'git', url: redactUrl(url), ref, commit: commit.trim() };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** The source's gearshift.yml, when it has one. */
  descriptorOf(summary: ArchiveSummary): AppDescriptor | null {
    const file = ['gearshift.yml', 'gearshift.yaml'].find((f) => summary.texts[f] !== undefined);
    if (!file || !summary.texts[file]) return null;
    try {
      return parseDescriptor(summary.texts[file], file);
    } catch (err) {
      if (err instanceof SchemaViolationError)
        throw new GearshiftError(
          err instanceof YamlLimitError ? 'rule_violation' : 'invalid_input',
          err.message,
          err.violations.map((v) => ({ ...v, pointer: `/archive/${file}${v.pointer}` })),
        );
      throw err;
    }
  }

  /**
   * The services of the app's own that a compose file of a source without gearshift.yml runs (its `build:` and
   * non-catalogue `image:` services, as the importer maps them), with where the file is; none when it has none or
   * does not import (the push's apply of it says why).
   */
  composeServicesOf(summary: ArchiveSummary): { file: string; services: NonNullable<AppDescriptor['services']> } | null {
    const file = COMPOSE_FILES.find((f) => summary.texts[f] !== undefined);
    if (!file) return null;
    const d = composeDescriptor('app', importCompose(summary.texts[file]));
    return d?.services && Object.keys(d.services).length > 0 ? { file, services: d.services } : null;
  }

  /** What stops the source's compose file from running here, each with its field; empty when nothing does, or there is none. */
  composeBlockersOf(summary: ArchiveSummary): { file: string; pointer: string; reason: string; rule?: string }[] {
    const file = COMPOSE_FILES.find((f) => summary.texts[f] !== undefined);
    return file ? importCompose(summary.texts[file]).blockers.map((b) => ({ file, ...b })) : [];
  }

  /** Hooks by name: a command in gearshift.yml, else an executable file in .gearshift/hooks. */
  hooksOf(descriptor: AppDescriptor | null, paths: Set<string>): Partial<Record<HookName, string>> {
    const hooks: Partial<Record<HookName, string>> = { ...(descriptor?.hooks ?? {}) };
    for (const name of HOOK_NAMES) {
      if (!hooks[name] && paths.has(`.gearshift/hooks/${name}`)) hooks[name] = `./.gearshift/hooks/${name}`;
    }
    return hooks;
  }
}

/** A URL without its user and password. */
export function redactUrl(text: string): string {
  return text.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1');
}
