import { buildContext, parseProcfile, servicePort, startOrder, type Cartridge, type ServiceDescriptor } from '@gearshift/cartridges';
import { ruleViolation } from '../common/errors';
import type { ReleaseService } from '../apps/deployment.entity';
import { detectRuntime, DETECTED_FILES } from './detect-runtime';

/** The cartridge a named image, or a folder with its own Dockerfile, runs as. */
export const IMAGE_CARTRIDGE = 'docker-image';

/**
 * The service whose folder's Procfile names a `release:` line (the first in start order), with the line: in a
 * release of named services only, that line runs once per deployment in the service's new image, as the root
 * Procfile's does for a web cartridge's.
 */
export function releaseLineOf(services: Record<string, ReleaseService>, texts: Record<string, string>): { service: string; line: string } | null {
  for (const name of startOrder(services)) {
    const context = services[name].build?.context;
    if (context === undefined) continue;
    const text = texts[context === '.' ? 'Procfile' : `${context}/Procfile`];
    const line = text === undefined ? undefined : parseProcfile(text).processes.get('release');
    if (line) return { service: name, line };
  }
  return null;
}

/** A release's services before its number is known: a built one gets its image name from it (see serviceImage). */
export interface PlannedServices {
  services: Record<string, ReleaseService>;
  /** For the build output: what was detected in each folder, and why. */
  steps: string[];
}

/**
 * What each named service of a pushed source runs on: a folder with its own Dockerfile (or the one it names) and a
 * named image run as docker-image; any other folder is built on the runtime its files call for, detected as for the
 * root of a repository. A folder that is not in the source, or says nothing of its runtime, is refused with the
 * push. `at` locates the descriptor in the request.
 */
export function planServices(
  declared: Record<string, ServiceDescriptor>,
  paths: readonly string[],
  catalog: Map<string, Cartridge>,
  at = '/archive/gearshift.yml',
  // A compose file's services: their env was written for the file's own database containers (see ReleaseService).
  composed = false,
): PlannedServices {
  const services: Record<string, ReleaseService> = {};
  const steps: string[] = [];
  for (const [name, s] of Object.entries(declared)) {
    const pointer = `${at}/services/${name}/build`;
    const context = buildContext(s.build);
    let cartridge = IMAGE_CARTRIDGE;
    let build: ReleaseService['build'];
    let runtime: string | undefined;
    if (context !== undefined) {
      const prefix = context === '.' ? '' : `${context}/`;
      const inside = paths.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
      const folder = context === '.' ? 'the root of the source' : `./${context}`;
      if (inside.length === 0) throw ruleViolation(pointer, 'folder', `${folder} is not a folder of the source (or holds no files)`);
      const dockerfile = typeof s.build === 'object' ? s.build.dockerfile : undefined;
      const target = typeof s.build === 'object' ? s.build.target : undefined;
      build = { context, ...(dockerfile ? { dockerfile } : {}), ...(target ? { target } : {}) };
      if (dockerfile !== undefined && !inside.includes(dockerfile)) throw ruleViolation(`${pointer}/dockerfile`, 'file', `${dockerfile} is not in ${folder}`);
      if (inside.includes(dockerfile ?? 'Dockerfile')) {
        // A Dockerfile written for docker compose builds FROM a public runtime image (node:22), which a node may not
        // pull: the runtime its files call for is offered instead, as the image ARG GEARSHIFT_CARTRIDGE_IMAGE names.
        const detected = detectRuntime(inside, catalog);
        runtime = detected && !detected.cartridge.manifest.image['from-app'] ? detected.cartridge.manifest.name : undefined;
        steps.push(
          `service ${name}: built from ${folder} with its Dockerfile` +
            (runtime ? ` (its ${detected!.because} calls for ${detected!.runtime}: ARG GEARSHIFT_CARTRIDGE_IMAGE names the ${runtime} image)` : ''),
        );
      } else {
        const detected = detectRuntime(inside, catalog);
        if (!detected)
          throw ruleViolation(
            pointer,
            'runtime-detected',
            `service ${name}: ${folder} has no Dockerfile and its files do not say which runtime it needs: none of ${DETECTED_FILES} is in it`,
          );
        if (!detected.cartridge.manifest.build)
          throw ruleViolation(pointer, 'buildable', `service ${name}: ${detected.cartridge.manifest.name} has no build recipe; add a Dockerfile to ${folder}`);
        cartridge = detected.cartridge.manifest.name;
        steps.push(`service ${name}: detected ${detected.runtime} in ${folder} (${detected.because}): built on ${cartridge}`);
      }
    }
    const port = servicePort(s);
    services[name] = {
      kind: s.kind,
      image: s.image ?? '',
      cartridge,
      ...(build ? { build } : {}),
      ...(runtime ? { runtime } : {}),
      ...(s.command !== undefined ? { command: typeof s.command === 'string' ? s.command : [...s.command] } : {}),
      ...(s.entrypoint !== undefined ? { entrypoint: [...s.entrypoint] } : {}),
      ...(s.workingDir !== undefined ? { workingDir: s.workingDir } : {}),
      ...(s.env ? { env: Object.fromEntries(Object.entries(s.env).map(([k, v]) => [k, String(v)])) } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(s.health ? { health: s.health } : {}),
      ...(s.hosts ? { hosts: [...s.hosts] } : {}),
      ...(s.size ? { size: s.size } : {}),
      ...(s.volumes ? { volumes: s.volumes.map((v) => (v.name ? { name: v.name, path: v.path } : { path: v.path })) } : {}),
      ...(s.dependsOn ? { dependsOn: [...s.dependsOn] } : {}),
      ...(composed ? {} : { envOverPublished: true }),
      ...(s.scale !== undefined ? { scale: s.scale } : s.autoscale ? { scale: s.autoscale.min } : {}),
      ...(s.autoscale && s.kind === 'web'
        ? { autoscale: { min: s.autoscale.min, max: s.autoscale.max, targetConcurrency: s.autoscale.targetConcurrency ?? 10 } }
        : {}),
    };
  }
  return { services, steps };
}

/**
 * The command line that starts a service's gears when its descriptor names one: its entrypoint and command (a list's
 * words as they stand, joined by blanks; a string as it is run, through a shell). Undefined when it names neither.
 */
export function serviceStart(s: Pick<ReleaseService, 'command' | 'entrypoint'>): string | undefined {
  if (s.command === undefined && s.entrypoint === undefined) return undefined;
  const command = s.command === undefined ? [] : typeof s.command === 'string' ? [s.command] : s.command;
  return [...(s.entrypoint ?? []), ...command].join(' ') || undefined;
}
