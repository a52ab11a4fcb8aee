import { isImageId, parseImageReference, type ImageReference } from '@gearshift/cartridges';

/**
 * The images a Dockerfile builds from: every FROM, every COPY/ADD --from= and every RUN --mount=...,from= that names
 * an image rather than an earlier stage. Read before a tenant's Dockerfile is built, so that an image id (which the
 * Docker Engine would find among every tenant's images on the node) or another app's release is refused first.
 */
export interface DockerfileImageRef {
  /** The line the instruction starts on (1-based). */
  line: number;
  /** FROM, COPY --from, ADD --from or RUN --mount. */
  where: string;
  /** The reference as written after ARG substitution. */
  image: string;
}

/** Logical instructions: continuation lines joined, comments and blank lines dropped, each with its first line. */
function instructions(text: string): { line: number; text: string }[] {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  // Parser directives come first, as comments: `# escape=``.
  for (const l of lines) {
    const directive = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(l);
    if (!directive) break;
    if (directive[1].toLowerCase() === 'escape' && (directive[2] === '`' || directive[2] === '\\')) escape = directive[2];
  }
  const out: { line: number; text: string }[] = [];
  let current: { line: number; text: string } | null = null;
  lines.forEach((raw, i) => {
    const trimmed = raw.trim();
    if (current && (trimmed.startsWith('#') || trimmed === '')) return; // comments and blank lines inside a continuation
    if (!current && (trimmed.startsWith('#') || trimmed === '')) return;
    const continued = trimmed.endsWith(escape);
    const part = continued ? trimmed.slice(0, -1) : trimmed;
    if (current) current.text += ` ${part}`;
    else current = { line: i + 1, text: part };
    if (!continued) {
      out.push(current);
      current = null;
    }
  });
  if (current) out.push(current);
  return out;
}

/** `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME:+word}` replaced by the known values (unknown names by ""). */
export function substituteArgs(value: string, args: ReadonlyMap<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced, op, word, bare) => {
    const name = (braced ?? bare) as string;
    const v = args.get(name);
    if (op === '-') return v ? v : (word as string);
    if (op === '+') return v ? (word as string) : '';
    return v ?? '';
  });
}

/** Splits an instruction's arguments on spaces, keeping leading `--flag=value` options apart. */
function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/**
 * The image references of a Dockerfile. `buildArgs` are the values the build is given; a global ARG (before the first
 * FROM) takes its default unless a build arg sets it. A reference to an earlier stage, by name or by index, is not an
 * image; nor is `scratch`.
 */
export function dockerfileImageRefs(text: string, buildArgs: Record<string, string> = {}): DockerfileImageRef[] {
  const global = new Map<string, string>();
  const stages: string[] = [];
  const refs: DockerfileImageRef[] = [];
  let seenFrom = false;
  const isStage = (value: string) => stages.includes(value.toLowerCase()) || (/^\d+$/.test(value) && Number(value) < stages.length);
  const add = (line: number, where: string, raw: string) => {
    const image = substituteArgs(raw, global);
    if (image.toLowerCase() === 'scratch' || isStage(image)) return;
    refs.push({ line, where, image });
  };
  for (const { line, text: instruction } of instructions(text)) {
    const [keyword = '', ...rest] = words(instruction);
    const kw = keyword.toUpperCase();
    if (kw === 'ARG' && !seenFrom) {
      for (const decl of rest) {
        const eq = decl.indexOf('=');
        const name = eq === -1 ? decl : decl.slice(0, eq);
        const fallback = eq === -1 ? undefined : decl.slice(eq + 1).replace(/^(["'])(.*)\1$/, '$2');
        const value = Object.prototype.hasOwnProperty.call(buildArgs, name) ? buildArgs[name] : fallback;
        if (value !== undefined) global.set(name, value);
      }
    } else if (kw === 'FROM') {
      seenFrom = true;
      const args = rest.filter((w) => !w.startsWith('--'));
      if (args[0] !== undefined) add(line, 'FROM', args[0]);
      // The stage's own name (FROM image AS name) is known only after its image is read: FROM x AS x names the image.
      stages.push(args[1]?.toUpperCase() === 'AS' && args[2] ? args[2].toLowerCase() : `#${stages.length}`);
    } else if (kw === 'COPY' || kw === 'ADD') {
      for (const w of rest) {
        if (!w.startsWith('--')) break;
        const from = /^--from=(.+)$/i.exec(w);
        if (from) add(line, `${kw} --from`, from[1].replace(/^(["'])(.*)\1$/, '$2'));
      }
    } else if (kw === 'RUN') {
      for (const w of rest) {
        if (!w.startsWith('--')) break;
        const mount = /^--mount=(.+)$/i.exec(w);
        if (!mount) continue;
        for (const option of mount[1].split(',')) {
          const from = /^from=(.+)$/i.exec(option.trim());
          if (from) add(line, 'RUN --mount', from[1].replace(/^(["'])(.*)\1$/, '$2'));
        }
      }
    }
  }
  return refs;
}

/** The names an image reference is known by on a node, for comparing with an image's RepoTags and RepoDigests. */
function namesOf(ref: ImageReference): string[] {
  const base = `${ref.domain}/${ref.path}`;
  return ref.digest ? [`${base}@${ref.digest}`] : [`${base}:${ref.tag ?? 'latest'}`];
}

/**
 * Whether an image found for `requested` carries that reference among its RepoTags or RepoDigests (compared in their
 * canonical forms: `nginx` is `docker.io/library/nginx:latest`). An image found only by its id or an id prefix does not.
 */
export function carriesReference(requested: string, repoTags: readonly string[], repoDigests: readonly string[]): boolean {
  return !isImageId(requested) && carriesName(requested, repoTags, repoDigests);
}

/** Whether an image carries `requested` as a name, even one spelled in hex digits (`cafe` is `cafe:latest` then). */
export function carriesName(requested: string, repoTags: readonly string[], repoDigests: readonly string[]): boolean {
  let wanted: string[];
  try {
    wanted = namesOf(parseImageReference(requested));
  } catch {
    return false;
  }
  return [...repoTags, ...repoDigests].some((name) => {
    try {
      return namesOf(parseImageReference(name)).some((n) => wanted.includes(n));
    } catch {
      return false;
    }
  });
}

/** The names a Dockerfile declares with ARG, anywhere in it: the build arguments it opts into. */
export function declaredArgs(text: string): Set<string> {
  const names = new Set<string>();
  for (const { text: instruction } of instructions(text)) {
    const [keyword = '', ...rest] = words(instruction);
    if (keyword.toUpperCase() !== 'ARG') continue;
    for (const decl of rest) names.add(decl.split('=')[0]);
  }
  return names;
}
