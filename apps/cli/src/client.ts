/** Exit codes scripts can trust. */
export const EXIT = { ok: 0, operationFailed: 1, usage: 2, refused: 3, unreachable: 4 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: { pointer: string; message: string }[] = [],
  ) {
    super(message);
  }
}

export interface Operation {
  id: string;
  kind: string;
  state: 'queued' | 'running' | 'succeeded' | 'failed';
  steps: { at: string; text: string }[];
  error: string | null;
}

/** The broker's REST API, with its errors turned into CliErrors that name the field and carry an exit code. */
export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token?: string,
  ) {}

  private async send(method: string, path: string, init: { body?: string | Buffer; type?: string }): Promise<Response> {
    try {
      return await fetch(`${this.server.replace(/\/$/, '')}/api/v1${path}`, {
        method,
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(init.type ? { 'content-type': init.type } : {}) },
        body: init.body,
      });
    } catch (err) {
      throw new CliError(`cannot reach the broker at ${this.server} (${(err as Error).cause ?? (err as Error).message}); is it running? (npm run up)`, EXIT.unreachable);
    }
  }

  async call<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body === undefined ? {} : { body: JSON.stringify(body), type: 'application/json' });
    return this.answer<T>(res);
  }

  /** Sends a file (a source archive) as the body. */
  async upload<T = any>(path: string, data: Buffer, type: string): Promise<T> {
    return this.answer<T>(await this.send('POST', path, { body: data, type }));
  }

  /** A binary answer (a snapshot), with the file name the broker suggests. */
  async download(method: string, path: string): Promise<{ data: Buffer; filename?: string }> {
    const res = await this.send(method, path, {});
    if (!res.ok) await this.answer(res);
    const filename = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
    return { data: Buffer.from(await res.arrayBuffer()), filename };
  }

  /** A streamed text answer (logs, an operation's progress), chunk by chunk as it arrives. */
  async *stream(path: string): AsyncGenerator<string> {
    const res = await this.send('GET', path, {});
    if (!res.ok || !res.body) await this.answer(res);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield decoder.decode(chunk, { stream: true });
  }

  private async answer<T>(res: Response): Promise<T> {
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : null;
    if (res.ok) return parsed as T;
    const message = parsed?.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401) throw new CliError(`${message} (run: gearshift login)`, EXIT.refused);
    throw new CliError(message, res.status >= 500 && res.status !== 503 ? EXIT.unreachable : EXIT.refused, parsed?.details ?? []);
  }
}
