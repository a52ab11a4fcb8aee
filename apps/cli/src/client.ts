import WebSocket from 'ws';
import type { Operation } from './api-types';

export type { Operation } from './api-types';

/** Exit codes scripts can trust. */
export const EXIT = { ok: 0, operationFailed: 1, usage: 2, refused: 3, unreachable: 4 } as const;

/** A bad field of a refused request: its JSON pointer and what is wrong (and whatever else the broker adds). */
export type ErrorDetail = { pointer: string; message: string; [more: string]: unknown };

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: ErrorDetail[] = [],
    /** The broker's HTTP status, when the broker refused. */
    readonly status?: number,
  ) {
    super(message);
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parts of an error body the CLI shows: its message and each bad field, when the body has them. */
function errorOf(body: unknown): { message?: string; details?: ErrorDetail[] } {
  if (!isRecord(body)) return {};
  const message = typeof body.message === 'string' ? body.message : undefined;
  const details = Array.isArray(body.details)
    ? body.details
        .filter(isRecord)
        .map((d) => ({ ...d, pointer: typeof d.pointer === 'string' ? d.pointer : '', message: typeof d.message === 'string' ? d.message : '' }))
    : undefined;
  return { message, details };
}

/**
 * The broker's REST API, with its errors turned into CliErrors that name the field and carry an exit code. Every
 * request the CLI makes goes through here: JSON calls, uploads, downloads and streams.
 */
export class ApiClient {
  constructor(
    readonly server: string,
    private readonly token?: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>('DELETE', path);
  }

  /** An operation as it is now. */
  operation(id: string): Promise<Operation> {
    return this.get<Operation>(`/operations/${encodeURIComponent(id)}`);
  }

  async call<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body === undefined ? {} : { body: JSON.stringify(body), type: 'application/json' });
    return this.answer<T>(res);
  }

  /** Sends a document or a file (a descriptor, a source archive, a snapshot) as the body. */
  async upload<T>(path: string, data: Buffer | string, type: string): Promise<T> {
    return this.answer<T>(await this.send('POST', path, { body: data, type }));
  }

  /** A binary answer (a snapshot), with the file name the broker suggests. */
  async download(method: Method, path: string): Promise<{ data: Buffer; filename?: string }> {
    const res = await this.send(method, path, {});
    if (!res.ok) await this.answer<never>(res);
    const filename = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1];
    return { data: Buffer.from(await res.arrayBuffer()), filename };
  }

  /** A streamed text answer (logs, an operation's progress, a command's output), chunk by chunk as it arrives. */
  async *stream(path: string, method: Method = 'GET', body?: unknown): AsyncGenerator<string> {
    const res = await this.send(method, path, body === undefined ? {} : { body: JSON.stringify(body), type: 'application/json' });
    if (!res.ok || !res.body) await this.answer<never>(res);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield decoder.decode(chunk, { stream: true });
  }

  /**
   * A WebSocket to the API (an interactive command), open; a refusal (the broker answers HTTP instead of upgrading)
   * is a CliError with the broker's message, as for any other call.
   */
  socket(path: string): Promise<WebSocket> {
    const url = `${this.server.replace(/\/$/, '').replace(/^http/, 'ws')}/api/v1${path}`;
    const ws = new WebSocket(url, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {} });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => {
          const body = new Response(text, { status: res.statusCode ?? 500, statusText: res.statusMessage ?? '' });
          this.answer<never>(body).then(() => reject(new CliError('the broker answered without opening the connection', EXIT.unreachable)), reject);
        });
      });
      ws.once('error', (err) =>
        reject(new CliError(`cannot reach the broker at ${this.server} (${err.message}); is it running? (npm run up)`, EXIT.unreachable)),
      );
    });
  }

  private async send(method: Method, path: string, init: { body?: string | Buffer; type?: string }): Promise<Response> {
    try {
      return await fetch(`${this.server.replace(/\/$/, '')}/api/v1${path}`, {
        method,
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(init.type ? { 'content-type': init.type } : {}) },
        body: init.body,
      });
    } catch (err) {
      throw new CliError(
        `cannot reach the broker at ${this.server} (${(err as Error).cause ?? (err as Error).message}); is it running? (npm run up)`,
        EXIT.unreachable,
      );
    }
  }

  private async answer<T>(res: Response): Promise<T> {
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : null;
    if (res.ok) return parsed as T;
    const error = errorOf(parsed);
    const message = error.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401) throw new CliError(`${message} (run: gearshift login)`, EXIT.refused);
    throw new CliError(message, res.status >= 500 && res.status !== 503 ? EXIT.unreachable : EXIT.refused, error.details ?? [], res.status);
  }
}
