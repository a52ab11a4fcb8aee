import { createHash } from 'node:crypto';
import type { RegistryCredentials } from '@gearshift/cartridges';
import type { RegistryImage } from './manifest';

/**
 * The release images of one platform, read from and written to its registry through the registry's HTTP API, so a
 * backup needs no access to the registry's files and restores into any registry the platform is given.
 */

const MANIFEST_TYPES = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json'];

export class RegistryClient {
  private readonly headers: Record<string, string>;

  constructor(
    private readonly registry: string,
    auth: RegistryCredentials | undefined,
  ) {
    this.headers = auth ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {};
  }

  private async call(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
    const url = path.startsWith('http') ? path : `http://${this.registry}${path}`;
    return fetch(url, { method, headers: { ...this.headers, ...init.headers }, body: init.body, redirect: 'follow' });
  }

  private async ok(res: Response, what: string): Promise<Response> {
    if (!res.ok) throw new Error(`the registry ${this.registry} answered ${res.status} to ${what}: ${(await res.text()).slice(0, 200)}`);
    return res;
  }

  /** Repositories whose names start with `prefix`. */
  async repositories(prefix: string): Promise<string[]> {
    const found: string[] = [];
    // The catalog comes in pages, each naming the next in its Link header.
    let next: string | undefined = '/v2/_catalog?n=1000';
    while (next) {
      const res = await this.ok(await this.call('GET', next), 'the catalog');
      const { repositories } = (await res.json()) as { repositories: string[] | null };
      found.push(...(repositories ?? []).filter((r) => r.startsWith(prefix)));
      next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    return found.sort();
  }

  async tags(repository: string): Promise<string[]> {
    const res = await this.call('GET', `/v2/${repository}/tags/list`);
    // A repository whose tags were all deleted is listed by the catalog but has none.
    if (res.status === 404) return [];
    const { tags } = (await (await this.ok(res, `the tags of ${repository}`)).json()) as { tags: string[] | null };
    return (tags ?? []).sort();
  }

  async manifest(repository: string, tag: string): Promise<{ bytes: Buffer; mediaType: string; digest: string; blobs: string[] }> {
    const res = await this.ok(
      await this.call('GET', `/v2/${repository}/manifests/${tag}`, { headers: { accept: MANIFEST_TYPES.join(', ') } }),
      `${repository}:${tag}`,
    );
    const bytes = Buffer.from(await res.arrayBuffer());
    const body = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; config?: { digest: string }; layers?: { digest: string }[] };
    const mediaType = (res.headers.get('content-type') ?? body.mediaType ?? '').split(';')[0];
    if (!MANIFEST_TYPES.includes(mediaType) || !body.config)
      throw new Error(`${repository}:${tag} is a ${mediaType || 'manifest of unknown type'}, not a single image`);
    return {
      bytes,
      mediaType,
      digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`,
      blobs: [body.config.digest, ...(body.layers ?? []).map((l) => l.digest)],
    };
  }

  async blob(repository: string, digest: string): Promise<Buffer> {
    const res = await this.ok(await this.call('GET', `/v2/${repository}/blobs/${digest}`), `blob ${digest} of ${repository}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async hasBlob(repository: string, digest: string): Promise<boolean> {
    return (await this.call('HEAD', `/v2/${repository}/blobs/${digest}`)).status === 200;
  }

  /** Uploads a blob in one request (the registry's monolithic upload), unless the repository has it already. */
  async putBlob(repository: string, digest: string, bytes: Buffer): Promise<void> {
    if (await this.hasBlob(repository, digest)) return;
    const started = await this.ok(await this.call('POST', `/v2/${repository}/blobs/uploads/`), `an upload to ${repository}`);
    const location = new URL(started.headers.get('location') ?? '', `http://${this.registry}`);
    location.searchParams.set('digest', digest);
    await this.ok(
      await this.call('PUT', location.toString(), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
        body: bytes,
      }),
      `blob ${digest} of ${repository}`,
    );
  }

  async putManifest(image: RegistryImage, bytes: Buffer): Promise<void> {
    await this.ok(
      await this.call('PUT', `/v2/${image.repository}/manifests/${image.tag}`, { headers: { 'content-type': image.mediaType }, body: bytes }),
      `${image.repository}:${image.tag}`,
    );
  }
}
