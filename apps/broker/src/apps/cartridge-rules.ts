import { IMAGE_OPTION_KEYS, type Cartridge, type CartridgeOptions } from '@gearshift/cartridges';
import { invalid, ruleViolation } from '../common/errors';

const isWeb = (c: Cartridge) => c.manifest.categories.includes('web');

/**
 * Checks a set of cartridges for an app: all known, at most one web cartridge, no conflicts, every requirement
 * provided. `pointer` locates the list in the request for error details. An app without a web cartridge gets one
 * when code is pushed: the runtime is detected from the files (deployments/detect-runtime.ts).
 */
export function checkCartridgeSet(names: string[], catalog: Map<string, Cartridge>, pointer = '/cartridges'): Cartridge[] {
  const chosen = names.map((name, i) => {
    const c = catalog.get(name);
    if (!c) {
      throw invalid(`${pointer}/${i}`, 'known-cartridge', `names "${name}", which is not in the catalogue (known: ${[...catalog.keys()].join(', ')})`);
    }
    return c;
  });
  const web = chosen.filter(isWeb);
  if (web.length > 1) {
    throw ruleViolation(pointer, 'one-web-cartridge', `${web.map((c) => c.manifest.name).join(' and ')} are all web cartridges; an app has exactly one`);
  }
  for (const a of chosen) {
    for (const b of chosen) {
      if (a === b) continue;
      const clash = (a.manifest.conflicts ?? []).filter((x) => (b.manifest.provides ?? []).includes(x) || b.manifest.name === x);
      if (clash.length > 0) {
        throw ruleViolation(pointer, 'conflicts', `${a.manifest.name} conflicts with ${b.manifest.name} (both provide ${clash.join(', ')})`);
      }
    }
    for (const req of a.manifest.requires ?? []) {
      if (!chosen.some((c) => c.manifest.name === req || (c.manifest.provides ?? []).includes(req))) {
        throw ruleViolation(pointer, 'requires', `${a.manifest.name} requires ${req}, which none of the app's cartridges provides`);
      }
    }
  }
  return chosen;
}

export function checkScale(web: Cartridge, replicas: number, pointer: string): void {
  const { min, max } = web.manifest.scaling ?? { min: 1, max: 1 };
  if (replicas < min || replicas > max) {
    throw ruleViolation(pointer, 'scaling', `${web.manifest.name} scales from ${min} to ${max} gears, not ${replicas}`);
  }
}

export function checkSize(cartridges: Cartridge[], size: string, pointer: string): void {
  for (const c of cartridges) {
    if (c.manifest.sizes && !c.manifest.sizes.includes(size as 'small')) {
      throw ruleViolation(pointer, 'sizes', `${c.manifest.name} allows gear sizes ${c.manifest.sizes.join(', ')}, not ${size}`);
    }
  }
}

/** An app's settings for a cartridge: the image and how to run it only for docker-image, which needs an image. */
export function checkOptions(c: Cartridge, options: CartridgeOptions, pointer: string): void {
  const fromApp = Boolean(c.manifest.image['from-app']);
  if (!fromApp) {
    const extra = IMAGE_OPTION_KEYS.find((k) => options[k] !== undefined);
    if (extra) throw ruleViolation(`${pointer}/${extra}`, 'docker-image-only', `${c.manifest.name} runs its own image; only docker-image takes "${extra}"`);
    return;
  }
  if (!options.image)
    throw ruleViolation(
      `${pointer}/image`,
      'required',
      `${c.manifest.name} needs the image to run, e.g. {"name": "${c.manifest.name}", "image": "registry:5000/team/app:1", "port": 8080}`,
    );
  const names = new Set<string>();
  for (const [i, v] of (options.volumes ?? []).entries()) {
    if (v.name === undefined) continue;
    if (names.has(v.name)) throw ruleViolation(`${pointer}/volumes/${i}/name`, 'unique', `volume "${v.name}" is named twice`);
    names.add(v.name);
  }
}

export { isWeb };
