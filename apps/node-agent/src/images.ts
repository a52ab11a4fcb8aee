import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hashFolder, isImageId, LABELS, type GearSpec } from '@gearshift/cartridges';
import type { AgentConfig } from './config';
import { DockerError, type DockerAdapter } from './docker.adapter';
import { carriesReference } from './dockerfile-refs';
import { PermanentError } from './errors';

/** The registry an image reference names: its first part when that looks like a host, else Docker Hub. */
function registryOf(ref: string): string {
  const first = ref.split('/')[0];
  return ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/**
 * The base images a cartridge's Dockerfile may build FROM, as build arguments: `ARG BASE_IMAGE` (Debian 12) or
 * `ARG BASE_IMAGE_TRIXIE` (Debian 13), whichever its manifest's base names. Both are given to every build; a
 * Dockerfile uses the one it declares.
 */
export function baseImageArgs(config: Pick<AgentConfig, 'baseImage' | 'trixieBaseImage'>): Record<string, string> {
  return { BASE_IMAGE: config.baseImage, BASE_IMAGE_TRIXIE: config.trixieBaseImage };
}

export type StepReporter = (text: string) => Promise<void>;

/** Where cartridge images are kept in the platform registry, so that a node that lacks one pulls it. */
export const CARTRIDGE_REPOSITORY = 'gearshift-cartridges';

/** A cartridge image's name in the registry at `registry`: `<registry>/gearshift-cartridges/<cartridge>:<hash>`. */
export const cartridgeInRegistry = (registry: string, cartridge: string, hash: string) => `${registry}/${CARTRIDGE_REPOSITORY}/${cartridge}:${hash}`;

/**
 * Cartridge images: built from the cartridge folder and tagged with its content hash, so an unchanged cartridge is
 * never built again; or pulled by reference. Two gears asking for the same image share one build.
 */
export class ImageBuilder {
  private readonly pending = new Map<string, Promise<void>>();

  constructor(
    private readonly config: Pick<AgentConfig, 'cartridgesDir' | 'baseImage' | 'trixieBaseImage' | 'imageRepository'>,
    private readonly docker: DockerAdapter,
  ) {}

  tag(image: GearSpec['image']): string {
    return 'ref' in image ? image.ref : `${this.config.imageRepository}/${image.build.cartridge}:${image.build.hash}`;
  }

  /** Builds a cartridge's image from scratch under another tag, ignoring every cache: what a new node pays. */
  async buildCold(cartridge: string, tag: string): Promise<void> {
    await this.docker.buildImage({
      contextDir: join(this.config.cartridgesDir, cartridge),
      tag,
      buildArgs: baseImageArgs(this.config),
      labels: { [LABELS.managedBy]: 'gearshift-bench' },
      noCache: true,
    });
  }

  /** Returns true when it had to build or pull. */
  async ensure(image: GearSpec['image'], step: StepReporter): Promise<boolean> {
    const tag = this.tag(image);
    // A reference Docker cannot take will not become one on a retry.
    const refused = (err: unknown) => {
      if (err instanceof DockerError && err.statusCode === 400) throw new PermanentError(`image ${tag.slice(0, 200)} could not be pulled: ${err.message}`);
      throw err;
    };
    if ('ref' in image) {
      // The node holds every tenant's images, and the Engine finds one by its id or any prefix of it: an image runs
      // only when it carries the name it was asked for.
      if (isImageId(tag))
        throw new PermanentError(
          `image ${tag.slice(0, 80)} is named by its id (or the start of one), which could be any app's image on this node; name an image by repository and tag`,
        );
      const found = await this.docker.inspectImageNames(tag).catch(refused);
      if (found && carriesReference(tag, found.tags, found.digests)) return false;
    } else if (await this.docker.imageExists(tag).catch(refused)) return false;
    let job = this.pending.get(tag);
    if (!job) {
      job = this.make(image, tag, step).finally(() => this.pending.delete(tag));
      this.pending.set(tag, job);
    }
    await job;
    return true;
  }

  private async make(image: GearSpec['image'], tag: string, step: StepReporter): Promise<void> {
    if ('ref' in image) {
      await step(`pulling image ${tag}`);
      try {
        await this.docker.pullImage(tag);
        const pulled = await this.docker.inspectImageNames(tag);
        if (pulled && !carriesReference(tag, pulled.tags, pulled.digests))
          throw new PermanentError(`image ${tag} was found on this node only by id, not by its name; it is not run`);
      } catch (err) {
        if (err instanceof PermanentError) throw err;
        // A public image comes from its own registry, which this node may have no way to reach.
        const where = this.docker.inPlatformRegistry(tag)
          ? ''
          : ` (a public image: this node fetches it from its registry, ${registryOf(tag)}, which it could not reach or which refused it)`;
        throw new PermanentError(`image ${tag} could not be pulled: ${(err as Error).message}${where}`);
      }
      return;
    }
    const { cartridge, hash } = image.build;
    if (await this.pullCartridge(cartridge, hash, tag, step)) return;
    const dir = join(this.config.cartridgesDir, cartridge);
    if (!existsSync(dir)) throw new PermanentError(`this node has no cartridge folder for ${cartridge} (looked in ${this.config.cartridgesDir})`);
    const local = hashFolder(dir);
    if (local !== hash) throw new PermanentError(`this node's ${cartridge} cartridge (${local}) differs from the broker's (${hash}); update the node`);
    await step(`building image ${tag} (once for this cartridge version)`);
    const tail: string[] = [];
    try {
      await this.docker.buildImage({
        contextDir: dir,
        tag,
        buildArgs: baseImageArgs(this.config),
        labels: { [LABELS.managedBy]: 'gearshift', [LABELS.cartridge]: cartridge, [LABELS.cartridgeHash]: hash },
        onLine: (line) => {
          tail.push(line);
          if (tail.length > 15) tail.shift();
        },
      });
    } catch (err) {
      throw new PermanentError(`${(err as Error).message}\n${tail.join('\n')}`);
    }
  }

  /**
   * A cartridge image someone pushed to the platform registry (`npm run images -- --push`) is pulled rather than
   * built again on every node: the same content hash is the same image. Not there (or no registry): false, and the
   * node builds it from its own cartridge folder as before.
   */
  private async pullCartridge(cartridge: string, hash: string, tag: string, step: StepReporter): Promise<boolean> {
    const registry = this.docker.platformRegistry();
    if (!registry) return false;
    const ref = cartridgeInRegistry(registry, cartridge, hash);
    try {
      await this.docker.pullImage(ref);
    } catch (err) {
      await step(`image ${ref} not pulled (${(err as Error).message.slice(0, 200)}): building it here`);
      return false;
    }
    await this.docker.tagImage(ref, tag);
    await step(`pulled image ${tag} from the registry`);
    return true;
  }
}
