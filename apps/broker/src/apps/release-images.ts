import {
  ImageReferenceError,
  isImageId,
  parseImageReference,
  resolvesToPlatformRegistry,
  type ImageReference,
  type RegistryCredentials,
} from '@gearshift/cartridges';
import { ruleViolation } from '../common/errors';

/**
 * Release images: what a deployment builds and pushes to the platform registry, named after the app's whole id so
 * that no two apps share a repository. The registry holds every tenant's releases, so an image named there may run
 * in an app only when it is one of that app's own releases; any other reference is a public image.
 */

/** The registry repositories of release images sit under this folder. */
export const RELEASE_REPOSITORY = 'gearshift-apps';

/** The app part of a release repository's name: the app's id, or its first 8 hex digits in releases made before. */
export const RELEASE_APP_ID = /^(?:[0-9a-f]{8}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The repository of an app's releases in the registry (or on the node that built them, without a registry). */
export const releaseRepository = (instance: string, appId: string) => `${RELEASE_REPOSITORY}/${instance}-${appId}`;

/** The image a release of an app is built as: `<registry>/gearshift-apps/<instance>-<app id>:<number>`. */
export const releaseImage = (registry: string, instance: string, appId: string, number: number) =>
  `${registry ? `${registry}/` : ''}${releaseRepository(instance, appId)}:${number}`;

/**
 * The image a named service of a release is built as: the release's, with the service's name after its number
 * (`<registry>/gearshift-apps/<instance>-<app id>:<number>-<service>`), so that it goes with its release.
 */
export const serviceImage = (registry: string, instance: string, appId: string, number: number, service: string) =>
  `${releaseImage(registry, instance, appId, number)}-${service}`;

/** The release number a tag of a release repository belongs to (`7`, or `7-api` for a service of release 7). */
export const releaseNumberOf = (tag: string) => tag.replace(/-.*$/, '');

/** The HTTP Authorization header the registry takes for its credentials. */
export const basicAuth = (c: RegistryCredentials) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

/** What decides where an image reference points and whose it is. */
export interface ImageSourceContext {
  /** The platform registry as configured (host:port; "" for none). */
  registry: string;
  instance: string;
  /** The app the image is for; absent while the app is being created (it has no release yet). */
  appId?: string;
  /** The images of the app's own releases, as recorded (names from before full ids included). */
  releaseImages?: readonly string[];
}

/** Whether a reference in the platform registry is one of the app's own releases. */
function isOwnRelease(ref: ImageReference, ctx: ImageSourceContext): boolean {
  if (!ctx.appId) return false;
  if (ref.path === releaseRepository(ctx.instance, ctx.appId)) return true;
  // A release made before names carried the whole id: only the exact release, as recorded for this app.
  return (ctx.releaseImages ?? []).some((image) => {
    try {
      const own = parseImageReference(image);
      return own.path === ref.path && own.tag === ref.tag && ref.digest === undefined;
    } catch (err) {
      if (err instanceof ImageReferenceError) return false;
      throw err;
    }
  });
}

/**
 * Refuses (422, rule `image_source`) an image named by its id (or a prefix of it), which the node would find among
 * every tenant's images, and an image in the platform registry that is not one of the app's own releases: the
 * registry holds every tenant's code. Public references pass; whether a node can pull them is the node's to say.
 */
export async function checkImageSource(image: string | undefined, ctx: ImageSourceContext, pointer: string): Promise<void> {
  if (!image) return;
  if (isImageId(image))
    throw ruleViolation(
      pointer,
      'image_source',
      `${image.slice(0, 80)} is an image id (or the start of one), which would find any image on the node, other apps' releases among them; name an image by repository and tag (name:tag)`,
    );
  let ref: ImageReference;
  try {
    ref = parseImageReference(image);
  } catch (err) {
    if (err instanceof ImageReferenceError) return; // the schema reports a malformed reference
    throw err;
  }
  if (isOwnRelease(ref, ctx) || !(await resolvesToPlatformRegistry(ref, ctx.registry))) return;
  throw ruleViolation(
    pointer,
    'image_source',
    `${image} is in the platform's registry, which holds the releases of every app; a docker-image gear may name only its own app's releases there (${releaseRepository(ctx.instance, ctx.appId ?? '<app id>')}:<number>) or a public image`,
  );
}
