import { Option } from 'commander';
import { CliError, EXIT } from './client';

/** Gathers a repeatable option's values. */
export const collect = (v: string, acc: string[]): string[] => [...acc, v];

export const domainOption = (): Option => new Option('-d, --domain <name>', 'the domain (default: your default domain)');

export const noWait = (): Option => new Option('--no-wait', 'return at once instead of following the operation');

/** Tables that cut long cells to fit (ending them with "…") show them whole with `--wide`. */
export const wideOption = (): Option => new Option('--wide', 'show cells cut to fit (ending in …) whole');

export interface WideOpts {
  wide?: boolean;
}

/** `NAME=value` as a pair; a usage error otherwise. */
export function parseAssignment(s: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new CliError(`"${s}" is not NAME=value`, EXIT.usage);
  return [s.slice(0, i), s.slice(i + 1)];
}
