/**
 * The pre-receive hook of every app repository. git runs it with the pushed refs on stdin, before it updates them;
 * its output reaches the pusher as "remote:" lines, and a non-zero exit rejects the push. A push to main or master
 * deploys the pushed commit: gearshift.yml is applied first when there is one (a compose file when there is none and
 * the app is still empty, or runs services), then the source is built and rolled out while the progress streams back.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { ArchiveError, inspectArchive } from '@gearshift/cartridges';

const api = process.env.GEARSHIFT_HOOK_API!;
const token = process.env.GEARSHIFT_HOOK_TOKEN!;
const domain = process.env.GEARSHIFT_HOOK_DOMAIN!;
const app = process.env.GEARSHIFT_HOOK_APP!;
const ZERO = /^0+$/;
const DEPLOYED = new Set(['refs/heads/main', 'refs/heads/master']);
const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

const say = (text: string) => process.stdout.write(`${text}\n`);
const headers = { authorization: `Bearer ${token}` };

async function apiError(res: Response): Promise<string> {
  const body = (await res.json().catch(() => ({}))) as { message?: string; details?: { pointer?: string; message?: string; rule?: string }[] };
  const details = (body.details ?? []).map((d) => `\n         ${d.pointer ?? ''} ${d.message ?? ''}${d.rule ? ` (rule: ${d.rule})` : ''}`).join('');
  return `${body.message ?? `HTTP ${res.status}`}${details}`;
}

function fileAt(commit: string, path: string): string | null {
  try {
    return execFileSync('git', ['show', `${commit}:${path}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return null;
  }
}

async function applyDescriptor(commit: string): Promise<void> {
  const file = ['gearshift.yml', 'gearshift.yaml'].find((f) => fileAt(commit, f) !== null);
  if (!file) return applyCompose(commit);
  // Named by the app the push is for: a file that describes another app is refused before anything is made.
  await apply(fileAt(commit, file)!, file, `&name=${app}`);
}

/**
 * An app created empty takes its shape from the repository's compose file when it has no gearshift.yml, and an app
 * of services keeps taking it from there: each push applies the file again, as it would a gearshift.yml, so a
 * catalogue service added to it is added to the app, and what stops the file from running is said by its field. An
 * app with cartridges and no services keeps them: a compose file beside its code is often for development only.
 */
async function applyCompose(commit: string): Promise<void> {
  const file = COMPOSE_FILES.find((f) => fileAt(commit, f) !== null);
  if (!file) return;
  const res = await fetch(`${api}/api/v1/domains/${domain}/apps/${app}`, { headers });
  if (!res.ok) throw new Error(await apiError(res));
  const current = (await res.json()) as { cartridges?: string[]; services?: Record<string, unknown> };
  if (current.cartridges?.length && !Object.keys(current.services ?? {}).length) return;
  await apply(fileAt(commit, file)!, file, `&name=${app}`);
}

async function apply(text: string, file: string, query = ''): Promise<void> {
  say(`-----> applying ${file}`);
  const res = await fetch(`${api}/api/v1/domains/${domain}/apply?wait=600&file=${encodeURIComponent(file)}${query}`, {
    method: 'POST',
    // Marked as a push's, as the deployment below is: the audit log records it from the pusher's address.
    headers: { ...headers, 'content-type': 'text/yaml', 'x-gearshift-source': 'git-push' },
    body: text,
  });
  if (!res.ok) throw new Error(`${file} was not applied: ${await apiError(res)}`);
  const result = (await res.json()) as {
    app: string;
    plan: { action: string; target: string }[];
    operation?: { state: string; error?: string } | null;
    warnings?: string[];
    notes?: string[];
  };
  if (result.app !== app) throw new Error(`${file} describes app "${result.app}", but this repository deploys "${app}"`);
  if (result.plan.length === 0) say('       unchanged');
  for (const item of result.plan) say(`       ${item.action} ${item.target}`);
  for (const warning of result.warnings ?? []) say(`       warning: ${warning}`);
  for (const note of result.notes ?? []) say(`       note: ${note}`);
  if (result.operation && result.operation.state !== 'succeeded')
    throw new Error(`applying ${file} ${result.operation.state}: ${result.operation.error ?? ''}`);
}

/**
 * Streams the operation's progress to the pusher until it ends. With node:http rather than fetch, whose body timeout
 * gives up after five silent minutes: a dependency install or a compile may print nothing for longer on a busy node.
 */
function follow(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? httpsGet : httpGet)(url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => reject(new Error(`the deployment's progress could not be followed: HTTP ${res.statusCode} ${body.slice(0, 500)}`)));
        return;
      }
      res.on('data', (chunk: Buffer) => process.stdout.write(chunk));
      res.on('end', () => resolve());
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * What the broker would refuse in the pushed tree (links that leave it, devices), as lines beside a refused file's
 * fields: a push whose gearshift.yml or compose file is refused says these too, not one push later. Empty when the
 * tree is fine; its size is the broker's to judge.
 */
async function archiveRefusal(archive: Buffer): Promise<string> {
  try {
    await inspectArchive(archive, Number.MAX_SAFE_INTEGER);
    return '';
  } catch (err) {
    if (!(err instanceof ArchiveError)) throw err;
    const lines = err.problems.map((p) => `\n         /archive${p.entry ? `/${p.entry}` : ''} ${p.message} (rule: ${p.rule})`);
    return `\n       and the source archive is refused:${lines.join('')}`;
  }
}

async function deploy(commit: string, ref: string, archive: Buffer): Promise<boolean> {
  say(`-----> deploying ${commit.slice(0, 10)} to ${app}-${domain} (${(archive.length / 1024).toFixed(0)} KB)`);
  const res = await fetch(`${api}/api/v1/domains/${domain}/apps/${app}/deployments`, {
    method: 'POST',
    headers: {
      ...headers,
      'content-type': 'application/gzip',
      'x-gearshift-source': 'git-push',
      'x-gearshift-commit': commit,
      'x-gearshift-ref': ref.replace('refs/heads/', ''),
    },
    body: archive,
  });
  if (!res.ok) throw new Error(await apiError(res));
  const started = (await res.json()) as { operation: { id: string } };
  await follow(`${api}/api/v1/operations/${started.operation.id}/log?follow=true`);
  const op = (await (await fetch(`${api}/api/v1/operations/${started.operation.id}`, { headers })).json()) as { state: string };
  return op.state === 'succeeded';
}

/**
 * Whether a release of the app is active. An app whose first deployment failed has none: it was stopped, and saying
 * that a release keeps serving would be wrong.
 */
async function hasServingRelease(): Promise<boolean> {
  const res = await fetch(`${api}/api/v1/domains/${domain}/apps/${app}/deployments`, { headers }).catch(() => null);
  if (!res?.ok) return true; // unknown: the deployment's own log above said what happened
  const history = (await res.json()) as { state: string }[];
  return history.some((d) => d.state === 'active');
}

/**
 * The commit the app's active release was built from, when a push made it. A push cut short after the broker took
 * its deployment (the broker restarted, the connection broke) leaves the release serving and the repository behind.
 */
async function activeCommit(): Promise<string | undefined> {
  const res = await fetch(`${api}/api/v1/domains/${domain}/apps/${app}/deployments`, { headers }).catch(() => null);
  if (!res?.ok) return undefined;
  const history = (await res.json()) as { active?: boolean; source?: { kind?: string; commit?: string } }[];
  const active = history.find((d) => d.active);
  return active?.source?.kind === 'git-push' ? active.source.commit : undefined;
}

async function main(): Promise<number> {
  const updates = readFileSync(0, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ') as [string, string, string]);
  const target = updates.find(([, next, ref]) => DEPLOYED.has(ref) && !ZERO.test(next));
  for (const [, , ref] of updates.filter((u) => u !== target)) say(`-----> ${ref} stored; only main and master deploy`);
  if (!target) return 0;
  const [, commit, ref] = target;
  try {
    // git sends a commit the repository already has at this ref as "up to date" and runs no hook: a commit that
    // comes again is one whose push was cut short. It runs already; the repository records it now.
    if ((await activeCommit()) === commit) {
      say(`-----> ${app}-${domain} already runs ${commit.slice(0, 10)} (its push was cut short after the deployment began); recorded now`);
      return 0;
    }
    const archive = execFileSync('git', ['archive', '--format=tar.gz', commit], { maxBuffer: 1 << 30 });
    try {
      await applyDescriptor(commit);
    } catch (err) {
      throw new Error(`${(err as Error).message}${await archiveRefusal(archive)}`);
    }
    if (await deploy(commit, ref, archive)) {
      say(`-----> ${app}-${domain} runs ${commit.slice(0, 10)}`);
      return 0;
    }
    say(
      (await hasServingRelease())
        ? '!!!!!  push rejected: the deployment failed, and the running release keeps serving'
        : `!!!!!  push rejected: the first deployment failed, so ${app}-${domain} is stopped: its URL says the deployment failed until a deployment works`,
    );
    return 1;
  } catch (err) {
    say(`!!!!!  push rejected: ${(err as Error).message}`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    say(`!!!!!  push rejected: ${(err as Error).message}`);
    process.exit(1);
  },
);
