/**
 * The console's only way to the broker: the REST API under /api/v1 on the same origin, with the token the login
 * answered. Errors keep the API's own words and the JSON pointers of the fields they name.
 */

export interface ErrorDetail {
  pointer: string;
  rule?: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message);
  }

  /** The message for one field (by its JSON pointer), if the API named it. */
  about(pointer: string): string | undefined {
    const hit = this.details.find((d) => d.pointer === pointer || d.pointer.startsWith(`${pointer}/`));
    return hit?.message;
  }
}

const TOKEN_KEY = 'gearshift.token';
const USER_KEY = 'gearshift.user';

export const session = {
  get token(): string | null {
    return localStorage.getItem(TOKEN_KEY);
  },
  get username(): string | null {
    return localStorage.getItem(USER_KEY);
  },
  save(token: string, username: string): void {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, username);
  },
  clear(): void {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  },
};

/** Called when the broker no longer takes the token: the console goes back to its login page. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { code?: string; message?: string | string[]; details?: ErrorDetail[] };
    const message = Array.isArray(body.message) ? body.message.join('; ') : (body.message ?? res.statusText);
    return new ApiError(res.status, body.code ?? 'error', message, Array.isArray(body.details) ? body.details : []);
  } catch {
    return new ApiError(res.status, 'error', text.trim() || `${res.status} ${res.statusText}`);
  }
}

export async function raw(method: string, path: string, body?: BodyInit | null, contentType?: string, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {};
  if (session.token) headers.authorization = `Bearer ${session.token}`;
  if (contentType) headers['content-type'] = contentType;
  const res = await fetch(`/api/v1${path}`, { method, headers, body: body ?? undefined, signal });
  if (res.status === 401 && path !== '/auth/login') {
    session.clear();
    onUnauthorized();
  }
  if (!res.ok) throw await failure(res);
  return res;
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await raw(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? undefined : 'application/json');
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string) => call<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => call<T>('POST', path, body ?? {});

/** Lines of a streamed answer (the log follow stream), handed over as they arrive until `signal` aborts. */
export async function follow(path: string, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
  const res = await raw('GET', path, undefined, undefined, signal);
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onText(value);
    }
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

export const enc = encodeURIComponent;
export const appPath = (domain: string, app: string) => `/domains/${enc(domain)}/apps/${enc(app)}`;

/** What the API answers, as the CLI reads it too. */
export type { Alias, App, AppEnv, AppOperation, Cartridge, Deployment, Domain, Node as NodeInfo } from '@gearshift/cartridges/src/api-types';

export type Series = [number, number][];

export interface AppMetrics {
  step: number;
  series: { requestsPerSecond?: Series; responseTimeMs?: Series; errorRate?: Series };
  gears: { name: string; node: string; cpuPercent?: Series; memoryBytes?: Series }[];
}
