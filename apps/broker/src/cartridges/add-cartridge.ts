import { cpSync, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { hashFolder, parseManifest, SchemaViolationError } from '@gearshift/cartridges';
import { loadConfig } from '../config';

/**
 * `npm run cartridge -- add <folder>`: validates a third-party cartridge folder exactly as the broker does, and copies
 * it into the catalogue. `POST /api/v1/cartridges/reload` (or a broker restart) then serves it.
 */
function main(argv: string[]): number {
  const [command, folder] = argv;
  if (command !== 'add' || !folder) {
    console.error('usage: npm run cartridge -- add <folder>   (the folder holds manifest.yml and, for built images, a Dockerfile)');
    return 64;
  }
  const dir = resolve(folder);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    console.error(`${dir} is not a folder`);
    return 1;
  }
  const file = join(dir, 'manifest.yml');
  if (!existsSync(file)) {
    console.error(`${file} is missing: a cartridge folder starts with its manifest`);
    return 1;
  }
  const manifest = parseManifest(readFileSync(file, 'utf8'), file, basename(dir));
  if (manifest.image.build && !existsSync(join(dir, 'Dockerfile'))) {
    console.error(`${file}: /image/build needs a Dockerfile in the folder`);
    return 1;
  }
  const config = loadConfig();
  const target = join(config.cartridgesDir, manifest.name);
  const replacing = existsSync(target);
  cpSync(dir, target, { recursive: true });
  console.log(`${replacing ? 'updated' : 'added'} cartridge ${manifest.name} ${manifest.version} (${hashFolder(target)}) in ${config.cartridgesDir}`);
  console.log('the broker serves it after POST /api/v1/cartridges/reload (as an administrator) or a restart');
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  if (err instanceof SchemaViolationError) {
    console.error(`not added: ${err.message}`);
    process.exitCode = 2;
  } else throw err;
}
