import { lifecycleOf, type Cartridge } from '@gearshift/cartridges';

/** Why a web cartridge was chosen for pushed code, in words for the build output. */
export interface Detection {
  cartridge: Cartridge;
  runtime: string;
  because: string;
}

/**
 * The files at the root of a repository that say which runtime it is written for, in the order they are tried,
 * each naming what a cartridge provides. composer.json comes before package.json because PHP apps often carry a
 * package.json for their front-end assets, while a Node app has no reason to carry a composer.json; index.html
 * comes last because Node, PHP and Python apps often ship one too.
 */
const RULES: { runtime: string; provides: string; matches: (path: string) => boolean; file: string }[] = [
  { runtime: 'PHP', provides: 'php', file: 'composer.json', matches: (p) => p === 'composer.json' },
  { runtime: 'Node.js', provides: 'nodejs', file: 'package.json', matches: (p) => p === 'package.json' },
  { runtime: 'PHP', provides: 'php', file: 'index.php', matches: (p) => p === 'index.php' },
  { runtime: 'Python', provides: 'python', file: 'requirements.txt', matches: (p) => p === 'requirements.txt' },
  { runtime: 'Python', provides: 'python', file: 'pyproject.toml', matches: (p) => p === 'pyproject.toml' },
  { runtime: 'Ruby', provides: 'ruby', file: 'Gemfile', matches: (p) => p === 'Gemfile' },
  { runtime: 'Java', provides: 'java', file: 'pom.xml', matches: (p) => p === 'pom.xml' },
  { runtime: 'Java', provides: 'java', file: 'a .jar file', matches: (p) => /^[^/]+\.jar$/.test(p) },
  { runtime: 'a static site', provides: 'static', file: 'index.html', matches: (p) => p === 'index.html' },
];

const deprecated = (c: Cartridge) => (lifecycleOf(c.manifest).status === 'deprecated' ? 1 : 0);

/**
 * Current cartridges before deprecated ones, then the newest version first: a catalogue with several Node.js
 * cartridges detects the newest current one, as a bare `nodejs` in a request means.
 */
const newestFirst = (a: Cartridge, b: Cartridge) =>
  deprecated(a) - deprecated(b) || b.manifest.version.localeCompare(a.manifest.version, undefined, { numeric: true });

/** The web cartridge that runs a source tree, from the files at its root; null when nothing says. */
export function detectRuntime(paths: Iterable<string>, catalog: Map<string, Cartridge>): Detection | null {
  const all = [...paths];
  for (const rule of RULES) {
    const hit = all.find(rule.matches);
    if (!hit) continue;
    const [cartridge] = [...catalog.values()]
      .filter((c) => c.manifest.categories.includes('web') && (c.manifest.provides ?? []).includes(rule.provides))
      .sort(newestFirst);
    if (cartridge) return { cartridge, runtime: rule.runtime, because: rule.file === 'a .jar file' ? hit : rule.file };
  }
  return null;
}

/** What the refusal says when nothing was detected: what was looked for. */
export const DETECTED_FILES = [...new Set(RULES.map((r) => r.file))].join(', ');
