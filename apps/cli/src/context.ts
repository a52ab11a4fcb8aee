import type { Command } from 'commander';
import type { Domain, Operation } from './api-types';
import { ApiClient, CliError, EXIT } from './client';
import { readConfig, type CliConfig } from './config';
import { follow } from './output';
import { noDomainMessage } from './views';

/** No domain was given and none is the default: main() words it from the domains the user has. */
export class NoDomainError extends CliError {
  constructor() {
    super(noDomainMessage([]), EXIT.usage);
  }
}

/** The options every command understands, given before the command's name. */
export interface Globals {
  json?: boolean;
  server?: string;
}

/** Commands that act in a domain take `-d, --domain`; without it, the default domain from the config applies. */
export interface DomainOpts {
  domain?: string;
}

/** Commands that start an operation follow it unless given `--no-wait`. */
export interface WaitOpts {
  wait?: boolean;
}

/**
 * What every command needs: the global options, the saved login, a client for the broker, and the one way to print.
 * The config is read afresh on each use, so a command sees what an earlier step of it has just written.
 */
export class CliContext {
  constructor(private readonly program: Command) {}

  globals(): Globals {
    return this.program.opts<Globals>();
  }

  /** Whether output is JSON for scripts rather than text for people. */
  get json(): boolean {
    return Boolean(this.globals().json);
  }

  config(): CliConfig {
    return readConfig();
  }

  server(): string {
    return this.globals().server ?? this.config().server ?? 'http://127.0.0.1:8080';
  }

  api(): ApiClient {
    return new ApiClient(this.server(), this.config().token);
  }

  domainOf(opts: DomainOpts): string {
    const domain = opts.domain ?? this.config().domain;
    if (!domain) throw new NoDomainError();
    return domain;
  }

  /** What to tell a user who chose no domain, from the domains they have (the generic advice if they cannot be read). */
  async noDomainMessage(): Promise<string> {
    const mine = await this.api()
      .get<Domain[]>('/domains')
      .catch(() => null);
    return mine ? noDomainMessage(mine.map((d) => d.name)) : new NoDomainError().message;
  }

  domainPath(opts: DomainOpts): string {
    return `/domains/${encodeURIComponent(this.domainOf(opts))}`;
  }

  appPath(opts: DomainOpts, app: string): string {
    return `${this.domainPath(opts)}/apps/${encodeURIComponent(app)}`;
  }

  /** JSON of `value` with --json, otherwise the text `render` gives. */
  print(value: unknown, render: () => string): void {
    console.log(this.json ? JSON.stringify(value, null, 2) : render());
  }

  /** Follows an operation to its end, showing its steps unless the output is JSON. */
  follow(op: Operation, timeoutS?: number): Promise<Operation> {
    return follow(this.api(), op, this.json, timeoutS);
  }
}
