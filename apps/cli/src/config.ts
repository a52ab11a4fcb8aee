import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What `gearshift login` remembers: the broker, the token, and the default domain. Kept with mode 0600. */
export interface CliConfig {
  server?: string;
  token?: string;
  username?: string;
  domain?: string;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'gearshift', 'config.json');
}

export function readConfig(): CliConfig {
  const file = configPath();
  if (!existsSync(file)) return {};
  return JSON.parse(readFileSync(file, 'utf8')) as CliConfig;
}

export function writeConfig(config: CliConfig): void {
  const file = configPath();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
}
