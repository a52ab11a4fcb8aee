import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../config';

export interface BrokerVersion {
  /** package.json's version. */
  version: string;
  /** The git commit this broker was built from, when it runs from a checkout. */
  commit: string | null;
}

let known: BrokerVersion | undefined;

/** The version of the running broker, read once: after an upgrade, healthz tells which code answers. */
export function brokerVersion(): BrokerVersion {
  if (known) return known;
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  let commit: string | null = null;
  try {
    commit =
      execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
        .toString()
        .trim() || null;
  } catch {
    // not a git checkout (an unpacked release)
  }
  known = { version, commit };
  return known;
}
