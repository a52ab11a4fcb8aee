import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docker, mustDocker } from './docker-cli';

/**
 * Lab nodes: separate hosts on this machine. Each is a container built from the base image with Debian's Docker
 * Engine, on a network of its own, that joins the broker over that network with scripts/join.sh, as an operator's
 * second machine would. Names: network gearshift-lab, containers gearshift-lab-<n>, nodes lab-<n> (GEARSHIFT_LAB names
 * another lab: its network and the prefix of its containers).
 */

export const LAB_LABEL = 'gearshift.lab';
/** The lab's name, also its network's; another name makes another lab beside it (a test file of its own). */
export const DEFAULT_LAB = 'gearshift-lab';
export const containerName = (lab: string, n: number) => `${lab}-${n}`;
export const nodeName = (n: number) => `lab-${n}`;
const volumeName = (lab: string, n: number) => `${lab}-${n}-docker`;

/**
 * What a Docker Engine inside a container needs on a host that refuses --privileged: these capabilities, no seccomp
 * or AppArmor profile, writable /proc and /sys paths, and the cgroup tree.
 */
export const NODE_HOST_FLAGS = [
  ...[
    'SYS_ADMIN',
    'NET_ADMIN',
    'NET_RAW',
    'MKNOD',
    'SYS_PTRACE',
    'DAC_READ_SEARCH',
    'SYS_CHROOT',
    'SETFCAP',
    'AUDIT_WRITE',
    'SYS_NICE',
    'IPC_LOCK',
    'IPC_OWNER',
  ].flatMap((cap) => ['--cap-add', cap]),
  ...['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined'].flatMap((opt) => ['--security-opt', opt]),
  '-v',
  '/sys/fs/cgroup:/sys/fs/cgroup:rw',
];

export interface LabSettings {
  /** The lab's name (GEARSHIFT_LAB, gearshift-lab by default): its network, and the prefix of its containers. */
  lab: string;
  /** This checkout: its scripts/lab recipe, and mounted read-only in each node as the agent's code. */
  root: string;
  baseImage: string;
  /** The broker's API as this host reaches it, and an administrator's token for it. */
  apiUrl: string;
  token: string;
  /** The broker's port: nodes reach it at the lab network's gateway. */
  brokerPort: number;
  redisPort: number;
  /** The platform registry as the broker names it (nodes pull from it over the lab network). */
  registry: string;
  instance: string;
  /** Extra CA certificates the nodes trust (this host's bundle: an egress proxy's CA is in it). */
  caFile?: string;
  log: (line: string) => void;
}

/** The lab network, made when missing; its gateway is this host's address on it. */
export async function ensureNetwork(lab: string): Promise<string> {
  if ((await docker(['network', 'inspect', lab])).code !== 0) {
    await mustDocker(['network', 'create', '--label', `${LAB_LABEL}=${lab}`, lab]);
  }
  return mustDocker(['network', 'inspect', lab, '-f', '{{(index .IPAM.Config 0).Gateway}}']);
}

/** The node-host image, tagged with the hash of its recipe and of the base image it is built from: built once. */
export async function ensureNodeImage(s: LabSettings): Promise<string> {
  const dir = join(s.root, 'scripts', 'lab');
  const baseId = await mustDocker(['image', 'inspect', s.baseImage, '-f', '{{.Id}}']).catch((err: Error) => {
    throw new Error(`the base image ${s.baseImage} is missing (npm run up makes it): ${err.message}`);
  });
  const hash = createHash('sha256')
    .update(readFileSync(join(dir, 'Dockerfile')))
    .update(baseId)
    .digest('hex')
    .slice(0, 16);
  const tag = `gearshift/lab-node:${hash}`;
  if ((await docker(['image', 'inspect', tag])).code === 0) return tag;
  s.log(`building the node-host image ${tag}`);
  await mustDocker(['build', '-q', '--label', `${LAB_LABEL}.image=1`, '--build-arg', `BASE_IMAGE=${s.baseImage}`, '-t', tag, dir]);
  return tag;
}

interface ApiNode {
  name: string;
  ready: boolean;
  address?: string;
}

async function api<T>(s: Pick<LabSettings, 'apiUrl' | 'token'>, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${s.apiUrl}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${s.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

const running = async (name: string) => (await docker(['inspect', name, '-f', '{{.State.Running}}'])).stdout.trim() === 'true';

/** Starts lab nodes 1..count (those already running are left) and waits until the broker reports each ready. */
export async function up(s: LabSettings, count: number): Promise<void> {
  if (/^(127\.|localhost|\[?::1)/.test(s.registry)) {
    throw new Error(`lab nodes cannot reach the registry at ${s.registry} (loopback): run it on an address they reach and set GEARSHIFT_REGISTRY to it`);
  }
  const gateway = await ensureNetwork(s.lab);
  const image = await ensureNodeImage(s);
  const nodes = async () => (await api<ApiNode[]>(s, 'GET', '/nodes')).body;
  const known = await nodes();
  const wanted = Array.from({ length: count }, (_, i) => i + 1);
  const fresh: number[] = [];
  for (const n of wanted) {
    if ((await running(containerName(s.lab, n))) && known.some((k) => k.name === nodeName(n) && k.ready)) continue;
    // A node host made again is a new machine: the record of the one it replaces goes first (its name is taken).
    if (known.some((k) => k.name === nodeName(n))) {
      const gone = await api<{ message?: string }>(s, 'DELETE', `/nodes/${nodeName(n)}`);
      if (gone.status !== 204 && gone.status !== 404) throw new Error(`${nodeName(n)} cannot join again (${gone.status}): ${gone.body?.message ?? ''}`);
    }
    fresh.push(n);
  }
  // One join token for the nodes that join now, as an administrator would make it.
  let joinToken = '';
  if (fresh.length > 0) {
    const token = await api<{ token: string; message?: string }>(s, 'POST', '/nodes/tokens', { uses: fresh.length, ttlHours: 1 });
    if (token.status !== 201) throw new Error(`the broker gave no join token (${token.status}): ${token.body?.message ?? ''}`);
    joinToken = token.body.token;
  }
  await Promise.all(
    fresh.map(async (n) => {
      const name = containerName(s.lab, n);
      await docker(['rm', '-f', name]);
      await docker(['volume', 'create', '--label', `${LAB_LABEL}=${s.lab}`, volumeName(s.lab, n)]);
      await mustDocker([
        'run',
        '-d',
        '--name',
        name,
        '--hostname',
        nodeName(n),
        '--init',
        '--network',
        s.lab,
        '--label',
        `${LAB_LABEL}=${s.lab}`,
        ...NODE_HOST_FLAGS,
        '-v',
        `${volumeName(s.lab, n)}:/var/lib/docker`,
        // The agent's code, read-only: in the lab only; a real machine has a checkout of its own.
        '-v',
        `${s.root}:/opt/gearshift:ro`,
        ...(s.caFile ? ['-v', `${s.caFile}:/etc/gearshift/extra-ca.crt:ro`] : []),
        image,
      ]);
      const address = await mustDocker(['inspect', name, '-f', `{{(index .NetworkSettings.Networks "${s.lab}").IPAddress}}`]);
      s.log(`${nodeName(n)}: host ${name} at ${address}, joining`);
      // The operator's steps (README "Adding a machine"), run inside the node host.
      const res = await docker(
        [
          'exec',
          name,
          'bash',
          '/opt/gearshift/scripts/join.sh',
          '--broker',
          `http://${gateway}:${s.brokerPort}`,
          '--token',
          joinToken,
          '--redis',
          `${gateway}:${s.redisPort}`,
          '--registry',
          s.registry,
          '--insecure-registry',
          '--name',
          nodeName(n),
          '--address',
          address,
          '--instance',
          s.instance,
          '--home',
          '/opt/gearshift',
          ...(s.caFile ? ['--ca-file', '/etc/gearshift/extra-ca.crt'] : []),
        ],
        {},
      );
      if (res.code !== 0) throw new Error(`${nodeName(n)} did not join:\n${(res.stdout + res.stderr).trim().slice(-3000)}`);
    }),
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    const ready = new Set((await nodes()).filter((n) => n.ready).map((n) => n.name));
    const waiting = Array.from({ length: count }, (_, i) => nodeName(i + 1)).filter((n) => !ready.has(n));
    if (waiting.length === 0) break;
    if (Date.now() > deadline) {
      const logs = await Promise.all(
        waiting.map(
          async (n) =>
            `--- ${n}\n${(await docker(['exec', containerName(s.lab, Number(n.slice(4))), 'tail', '-30', '/var/lib/gearshift/logs/agent.log'])).stdout}`,
        ),
      );
      throw new Error(`lab nodes ${waiting.join(', ')} did not report ready within 180 s\n${logs.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  s.log(`${count} lab node(s) up: ${Array.from({ length: count }, (_, i) => nodeName(i + 1)).join(', ')}`);
}

/** Removes every lab node host, their volumes and the network, and the nodes' records at the broker. */
export async function down(s: Pick<LabSettings, 'lab' | 'apiUrl' | 'token' | 'log'>): Promise<void> {
  const ids = (await mustDocker(['ps', '-aq', '--filter', `label=${LAB_LABEL}=${s.lab}`])).split('\n').filter(Boolean);
  const names = ids.length ? (await mustDocker(['inspect', '-f', '{{.Config.Hostname}}', ...ids])).split('\n').filter(Boolean) : [];
  if (ids.length) await mustDocker(['rm', '-f', '-v', ...ids]);
  const volumes = (await mustDocker(['volume', 'ls', '-q', '--filter', `label=${LAB_LABEL}=${s.lab}`])).split('\n').filter(Boolean);
  if (volumes.length) await mustDocker(['volume', 'rm', ...volumes]);
  if ((await docker(['network', 'inspect', s.lab])).code === 0) await mustDocker(['network', 'rm', s.lab]);
  for (const name of names) {
    if (!s.token) break;
    const res = await api<{ message?: string }>(s, 'DELETE', `/nodes/${name}`).catch((err: Error) => ({ status: 0, body: { message: err.message } }));
    if (res.status !== 204 && res.status !== 404) s.log(`node ${name} kept at the broker (${res.status}): ${res.body?.message ?? ''}`);
  }
  s.log(`lab down: ${ids.length} node host(s), ${volumes.length} volume(s) and the network removed`);
}

/** An administrator's token: GEARSHIFT_TOKEN, else a login as admin with GEARSHIFT_ADMIN_PASSWORD or the data dir's file. */
export async function adminToken(apiUrl: string, env: NodeJS.ProcessEnv, dataDir: string): Promise<string> {
  if (env.GEARSHIFT_TOKEN) return env.GEARSHIFT_TOKEN;
  const file = join(dataDir, 'admin-password');
  const password = env.GEARSHIFT_ADMIN_PASSWORD || (existsSync(file) ? readFileSync(file, 'utf8').trim() : '');
  if (!password) throw new Error('no administrator credentials: set GEARSHIFT_TOKEN or GEARSHIFT_ADMIN_PASSWORD');
  const res = await fetch(`${apiUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; message?: string };
  if (res.status !== 200 || !body.token) throw new Error(`logging in as admin at ${apiUrl} failed (${res.status}): ${body.message ?? ''}`);
  return body.token;
}
