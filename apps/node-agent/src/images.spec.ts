import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerAdapter } from './docker.adapter';
import { ImageBuilder } from './images';

/** A Docker Engine that has no image at all and records what it is asked to do; `pull` fails when told to. */
function fakeDocker(registry: string | undefined, pullFails: boolean) {
  const calls: string[] = [];
  const docker = {
    imageExists: async () => false,
    platformRegistry: () => registry,
    pullImage: async (ref: string) => {
      calls.push(`pull ${ref}`);
      if (pullFails) throw new Error('manifest unknown');
    },
    tagImage: async (source: string, target: string) => void calls.push(`tag ${source} ${target}`),
    buildImage: async (opts: { tag: string }) => void calls.push(`build ${opts.tag}`),
  };
  return { docker: docker as unknown as DockerAdapter, calls };
}

describe('cartridge images on a node that lacks them', () => {
  const cartridgesDir = mkdtempSync(join(tmpdir(), 'gearshift-images-'));
  const config = { cartridgesDir, baseImage: 'gearshift/base:bookworm', trixieBaseImage: 'gearshift/base:trixie', imageRepository: 'gearshift' };
  const image = { build: { cartridge: 'static', hash: 'abc123' } };
  const steps: string[] = [];
  const step = async (text: string) => void steps.push(text);

  it('pulls one pushed to the platform registry and names it as a local build would be, without building', async () => {
    const { docker, calls } = fakeDocker('10.0.0.2:5000', false);
    assert.equal(await new ImageBuilder(config, docker).ensure(image, step), true);
    assert.deepEqual(calls, [
      'pull 10.0.0.2:5000/gearshift-cartridges/static:abc123',
      'tag 10.0.0.2:5000/gearshift-cartridges/static:abc123 gearshift/static:abc123',
    ]);
  });

  it('builds it from its own cartridge folder when the registry does not have it', async () => {
    const { docker, calls } = fakeDocker('10.0.0.2:5000', true);
    // No folder for the cartridge here: the build is refused with that reason, after the pull was tried.
    await assert.rejects(new ImageBuilder(config, docker).ensure(image, step), /no cartridge folder for static/);
    assert.deepEqual(calls, ['pull 10.0.0.2:5000/gearshift-cartridges/static:abc123']);
    assert.match(steps.at(-1) ?? '', /not pulled \(manifest unknown\): building it here/);
  });

  it('asks no registry when it knows none', async () => {
    const { docker, calls } = fakeDocker(undefined, false);
    await assert.rejects(new ImageBuilder(config, docker).ensure(image, step), /no cartridge folder/);
    assert.deepEqual(calls, []);
    rmSync(cartridgesDir, { recursive: true, force: true });
  });
});
