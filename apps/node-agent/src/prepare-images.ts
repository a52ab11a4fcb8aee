import { loadCatalog } from '@gearshift/cartridges';
import { loadConfig } from './config';
import { DockerAdapter } from './docker.adapter';
import { cartridgeInRegistry, ImageBuilder } from './images';

/**
 * Builds the image of every cartridge in the catalogue that lacks one (`npm test` and `npm run up` call it, so the
 * first app does not wait for a build). Prints what it did and how long it took.
 *
 * `--push [cartridge,...]` also pushes those images (all of them when none is named) to the platform registry
 * (GEARSHIFT_REGISTRY, with its credentials), where nodes on other hosts pull them instead of building them.
 */
async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, GEARSHIFT_NODE_NAME: process.env.GEARSHIFT_NODE_NAME || 'images' });
  const docker = new DockerAdapter();
  const builder = new ImageBuilder(config, docker);
  const catalog = loadCatalog(config.cartridgesDir);
  const args = process.argv.slice(2);
  const push = args[0] === '--push';
  const only = push && args[1] ? new Set(args[1].split(',')) : undefined;
  if (args.length > 0 && !push) throw new Error(`unknown argument ${args[0]}; the only one is --push [cartridge,...]`);
  if (push && !config.registry) throw new Error('--push needs the platform registry: set GEARSHIFT_REGISTRY');
  if (push && config.registryAuth) docker.useRegistry(config.registry, config.registryAuth);
  const unknown = [...(only ?? [])].filter((name) => !catalog.has(name));
  if (unknown.length > 0) throw new Error(`no cartridge named ${unknown.join(', ')}`);
  const started = Date.now();
  const builds = [...catalog.values()]
    .filter((c) => c.manifest.image.build && (!only || only.has(c.manifest.name)))
    .map(async (c) => {
      const t0 = Date.now();
      const image = { build: { cartridge: c.manifest.name, hash: c.hash } };
      const built = await builder.ensure(image, async () => undefined);
      let pushed = '';
      if (push) {
        const ref = cartridgeInRegistry(config.registry, c.manifest.name, c.hash);
        await docker.tagImage(builder.tag(image), ref);
        await docker.pushImage(ref);
        pushed = `, pushed as ${ref}`;
      }
      return { name: c.manifest.name, tag: builder.tag(image), built, ms: Date.now() - t0, pushed };
    });
  for (const r of await Promise.all(builds)) {
    console.log(`  ${r.name.padEnd(20)} ${r.built ? `built in ${(r.ms / 1000).toFixed(1)} s` : 'up to date'}  ${r.tag}${r.pushed}`);
  }
  console.log(`  cartridge images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(`preparing cartridge images failed: ${(err as Error).message}`);
  process.exit(1);
});
