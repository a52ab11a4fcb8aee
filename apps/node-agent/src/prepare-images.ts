import { loadCatalog } from '@gearshift/cartridges';
import { loadConfig } from './config';
import { DockerAdapter } from './docker.adapter';
import { ImageBuilder } from './images';

/**
 * Builds the image of every cartridge in the catalogue that lacks one (`npm test` and `npm run up` call it, so the
 * first app does not wait for a build). Prints what it did and how long it took.
 */
async function main(): Promise<void> {
  const config = loadConfig({ ...process.env, GEARSHIFT_NODE_NAME: process.env.GEARSHIFT_NODE_NAME || 'images' });
  const builder = new ImageBuilder(config, new DockerAdapter());
  const catalog = loadCatalog(config.cartridgesDir);
  const started = Date.now();
  const builds = [...catalog.values()]
    .filter((c) => c.manifest.image.build)
    .map(async (c) => {
      const t0 = Date.now();
      const built = await builder.ensure({ build: { cartridge: c.manifest.name, hash: c.hash } }, async () => undefined);
      return { name: c.manifest.name, tag: builder.tag({ build: { cartridge: c.manifest.name, hash: c.hash } }), built, ms: Date.now() - t0 };
    });
  for (const r of await Promise.all(builds)) {
    console.log(`  ${r.name.padEnd(20)} ${r.built ? `built in ${(r.ms / 1000).toFixed(1)} s` : 'up to date'}  ${r.tag}`);
  }
  console.log(`  cartridge images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  console.error(`preparing cartridge images failed: ${(err as Error).message}`);
  process.exit(1);
});
