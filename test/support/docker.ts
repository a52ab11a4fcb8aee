import Docker from 'dockerode';
import type { Platform } from './platform';
import { REGISTRY, registryHeaders } from './registry';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

/** The label filter of what one platform instance made, with more labels to narrow it. */
const byInstance = (instance: string, labels: Record<string, string> = {}) =>
  JSON.stringify({ label: [`gearshift.instance=${instance}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)] });

export function instanceContainers(instance: string, labels: Record<string, string> = {}) {
  return docker.listContainers({ all: true, filters: byInstance(instance, labels) });
}

export async function instanceVolumes(instance: string) {
  const res = await docker.listVolumes({ filters: byInstance(instance) });
  return res.Volumes ?? [];
}

export function instanceNetworks(instance: string) {
  return docker.listNetworks({ filters: byInstance(instance) });
}

/** Release images this instance built, on this host and in the registry. */
async function removeReleaseImages(instance: string): Promise<void> {
  const images = await docker.listImages({ filters: byInstance(instance) });
  const registry = REGISTRY;
  for (const img of images) {
    for (const tag of img.RepoTags ?? []) {
      if (registry && tag.startsWith(`${registry}/`)) {
        const [repo, version] = [tag.slice(registry.length + 1, tag.lastIndexOf(':')), tag.slice(tag.lastIndexOf(':') + 1)];
        const head = await fetch(`http://${registry}/v2/${repo}/manifests/${version}`, {
          method: 'HEAD',
          headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json', ...registryHeaders() },
        }).catch(() => null);
        const digest = head?.headers.get('docker-content-digest');
        if (digest) await fetch(`http://${registry}/v2/${repo}/manifests/${digest}`, { method: 'DELETE', headers: registryHeaders() }).catch(() => undefined);
      }
    }
    await docker
      .getImage(img.Id)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

/** Removes the containers, networks, volumes and release images of one platform instance. */
export async function removeInstance(instance: string): Promise<void> {
  for (const c of await instanceContainers(instance))
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => undefined);
  for (const n of await instanceNetworks(instance))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
  for (const v of await instanceVolumes(instance))
    await docker
      .getVolume(v.Name)
      .remove({ force: true })
      .catch(() => undefined);
  await removeReleaseImages(instance);
}

/** Runs a command in a container and returns what it printed (stdout and stderr). */
export async function execIn(containerId: string, cmd: string[]): Promise<string> {
  const exec = await docker.getContainer(containerId).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise((res) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', res);
  });
  const raw = Buffer.concat(chunks);
  let out = '';
  for (let i = 0; i + 8 <= raw.length;) {
    const size = raw.readUInt32BE(i + 4);
    out += raw.subarray(i + 8, i + 8 + size).toString();
    i += 8 + size;
  }
  return out.trim();
}

/** Runs SQL in an app's PostgreSQL gear, as the app's own database user. */
export async function psqlIn(p: Platform, app: string, sql: string): Promise<string> {
  const [db] = await p.containers({ 'gearshift.app-name': app, 'gearshift.cartridge': 'postgresql-15' });
  const info = await docker.getContainer(db.Id).inspect();
  const env = Object.fromEntries(info.Config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  return execIn(db.Id, ['psql', '-qAt', '-h', '/run/postgresql', '-U', env.POSTGRESQL_USER, '-d', env.POSTGRESQL_DATABASE, '-c', sql]);
}
