import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { STATUS_CODES } from 'node:http';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { SERVICE_NAME, type RunInput, type TerminalSize } from '@gearshift/cartridges';
import { ERROR_STATUS, GearshiftError, invalid } from '../common/errors';
import { AuditService, readableAddress } from '../audit/audit.service';
import { commandWords } from '../audit/actions';
import { AuthService, type Session } from '../users/auth.service';
import { requireScope } from '../users/auth.guard';
import { neededScope } from '../users/scopes';
import { RunService, type CommandIo, type RunEnd } from './run.service';
import { allStreams, BoundedStream, droppedWords, socketSink } from '../common/bounded-stream';
import { BROKER_CONFIG, type BrokerConfig } from '../config';

/** `/api/v1/domains/:domain/apps/:app/run` or `/exec`, upgraded to a WebSocket. */
const PATH = /^\/api\/v1\/domains\/([^/]+)\/apps\/([^/]+)\/(run|exec)$/;
const MAX_WORDS = 100;
const MAX_WORD = 4096;
/** A frame larger than this is refused: keys typed, or a file pasted, not a stream of data. */
const MAX_FRAME = 1024 * 1024;
/** Bytes of input the node may have yet to read before the socket stops taking more (and one frame more). */
const MAX_UNREAD = 1024 * 1024;

/** What the client asked for, from the URL's query. */
interface TerminalRequest {
  kind: 'run' | 'exec';
  domain: string;
  app: string;
  command: string[];
  process?: string;
  service?: string;
  gear?: string;
  tty?: TerminalSize;
  stdin: boolean;
}

/** Reads a request's path and query; null for a path that is not ours, an error for a bad query. */
export function parseTerminalRequest(url: string): TerminalRequest | null {
  const u = new URL(url, 'http://broker');
  const m = PATH.exec(u.pathname);
  if (!m) return null;
  const q = u.searchParams;
  const command = q.getAll('command');
  if (command.length === 0 || command.length > MAX_WORDS || command.some((w) => w.length === 0 || w.length > MAX_WORD)) {
    throw invalid('/command', 'command', `must be 1 to ${MAX_WORDS} words (command=…&command=…), none empty or longer than ${MAX_WORD}`);
  }
  const size = (name: 'cols' | 'rows', fallback: number) => {
    const raw = q.get(name);
    const n = raw === null ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw invalid(`/${name}`, 'terminal-size', 'must be a whole number from 1 to 1000');
    return n;
  };
  const flag = (name: string, fallback: boolean) => {
    const raw = q.get(name);
    if (raw === null) return fallback;
    if (!['true', 'false', '1', '0'].includes(raw)) throw invalid(`/${name}`, 'flag', 'must be true or false');
    return raw === 'true' || raw === '1';
  };
  const tty = flag('tty', false);
  const process = q.get('process') ?? undefined;
  if (process !== undefined && !/^[A-Za-z0-9_-]{1,30}$/.test(process)) throw invalid('/process', 'pattern', 'must be a Procfile process type');
  const service = q.get('service') ?? undefined;
  if (service !== undefined && !new RegExp(SERVICE_NAME).test(service)) throw invalid('/service', 'pattern', "must be the name of one of the app's services");
  const gear = q.get('gear') ?? undefined;
  if (gear !== undefined && !/^[0-9a-f-]{4,36}$/.test(gear)) throw invalid('/gear', 'pattern', 'must be a gear id or its first characters');
  return {
    kind: m[3] as 'run' | 'exec',
    domain: decodeURIComponent(m[1]),
    app: decodeURIComponent(m[2]),
    command,
    ...(process ? { process } : {}),
    ...(service ? { service } : {}),
    ...(gear ? { gear } : {}),
    ...(tty ? { tty: { cols: size('cols', 80), rows: size('rows', 24) } } : {}),
    stdin: flag('stdin', true),
  };
}

/**
 * Interactive commands: `gearshift run -it APP -- bash` and `gearshift exec -it APP -- sh` over a WebSocket on the
 * same paths as their one-shot forms. The token is checked as the API checks it, the caller must be allowed to run
 * commands in the app (a viewer is not), and the user's commands count against GEARSHIFT_MAX_RUNS, all before the
 * connection is upgraded: a refusal is a plain HTTP answer with the API's error body.
 *
 * On the socket, binary frames are bytes: the user's keys in, what the terminal shows out. Text frames are JSON: in,
 * `{"resize": {"cols", "rows"}}` or `{"eof": true}`; out, `{"line", "stream"}` (without a terminal), then
 * `{"exitCode"}` or `{"error"}`, after which the broker closes the socket.
 *
 * To the node, the bytes go through Redis like a one-off command's output (the relay, `<channel>:in` for the keys),
 * not over a socket of the node's own: nodes already reach Redis and nothing else needs opening between them and the
 * brokers, any broker can serve any node, and a node's Redis user may use only its request's channels. A keystroke
 * costs one publish each way, well under a millisecond here.
 */
@Injectable()
export class TerminalGateway implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('terminal');
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly auth: AuthService,
    private readonly runs: RunService,
    private readonly audit: AuditService,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    server?.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrade(req, socket, head).catch((err: Error) => {
        this.logger.error(`terminal: ${err.message}`);
        socket.destroy();
      });
    });
  }

  onModuleDestroy(): void {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    let request: TerminalRequest | null;
    let session: Session | undefined;
    const address = readableAddress(req.socket.remoteAddress);
    try {
      request = parseTerminalRequest(req.url ?? '/');
      if (!request) return refuse(socket, new GearshiftError('not_found', `${(req.url ?? '/').split('?')[0]} has no WebSocket`));
      session = await this.auth.authenticate(req.headers.authorization);
      requireScope(session, neededScope('POST', undefined));
    } catch (err) {
      return refuse(socket, err);
    }
    const user = session.user;
    const { kind, domain, app: appName } = request;
    const what = {
      action: `app.${kind}`,
      target: `${domain}/${appName}`,
      domain,
      details: {
        command: commandWords(request.command),
        interactive: true,
        tty: Boolean(request.tty),
        ...(request.gear ? { gear: request.gear } : {}),
        ...(request.process ? { process: request.process } : {}),
      },
    };
    const actor = { user, token: { id: session.tokenId, kind: session.tokenKind, name: session.tokenName }, address };
    let ws: WebSocket | undefined;
    try {
      const app = await this.runs.appFor(user, domain, appName);
      await this.runs.held(user, async () => {
        ws = await new Promise<WebSocket>((resolve) => this.wss.handleUpgrade(req, socket, head, resolve));
        const end = await this.session(ws, request, (io) =>
          kind === 'run'
            ? this.runs.execute(app, { command: request.command, process: request.process, service: request.service }, io)
            : this.runs.executeIn(app, { gear: request.gear, service: request.service, process: request.process }, request.command, io),
        );
        this.audit.record({ ...what, details: { ...what.details, ...(end ?? { clientLeft: true }) } }, actor, 200);
      });
    } catch (err) {
      const status = err instanceof GearshiftError ? ERROR_STATUS[err.code] : 500;
      this.audit.record(what, actor, status, err instanceof GearshiftError ? { code: err.code } : undefined);
      if (!ws) return refuse(socket, err);
      if (ws.readyState === ws.OPEN) {
        ws.send(JSON.stringify({ error: (err as Error).message }));
        ws.close(1011);
      }
    }
  }

  /** Relays one command over an open socket; resolves how it ended, or null when the client left first. */
  private async session(ws: WebSocket, request: TerminalRequest, start: (io: CommandIo) => Promise<RunEnd | null>): Promise<RunEnd | null> {
    const gone = new AbortController();
    ws.on('close', () => gone.abort());
    ws.on('error', () => gone.abort());
    let send: ((m: RunInput) => Promise<void>) | undefined;
    const early: RunInput[] = [];
    // What the node has not read yet is held in Redis (or here, before the node listens): past MAX_UNREAD bytes the
    // socket is paused, so a client that sends faster than the command reads waits, and fills no memory. A node
    // that does not say what it read (an older agent) is sent everything at once, as before.
    let acked = true;
    const unread: number[] = [];
    let unreadBytes = 0;
    let readCount = 0;
    let sentCount = 0;
    const flow = () => {
      if (unreadBytes >= MAX_UNREAD && !ws.isPaused) ws.pause();
      else if (unreadBytes <= MAX_UNREAD / 2 && ws.isPaused) ws.resume();
    };
    const pass = (m: RunInput, bytes: number) => {
      if (acked) {
        unread.push(bytes);
        unreadBytes += bytes;
      }
      if (send) {
        sentCount++;
        void send(m).catch(() => undefined);
      } else early.push(m);
      flow();
    };
    ws.on('message', (data: RawData, binary: boolean) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      if (binary) return pass({ data: bytes.toString('base64') }, bytes.length);
      let m: unknown;
      try {
        m = JSON.parse(bytes.toString('utf8'));
      } catch {
        return;
      }
      const control = m as Partial<{ resize: TerminalSize; eof: boolean; data: string }>;
      if (control.eof === true) pass({ eof: true }, bytes.length);
      else if (typeof control.data === 'string') pass({ data: Buffer.from(control.data, 'utf8').toString('base64') }, bytes.length);
      else if (control.resize && isSize(control.resize)) pass({ resize: { cols: control.resize.cols, rows: control.resize.rows } }, bytes.length);
    });
    // What the client has not read is held up to GEARSHIFT_STREAM_BUFFER, then dropped and counted: a terminal's
    // bytes go on as they come (frames of one turn joined), lines as messages of their own.
    const screen = new BoundedStream<Buffer>(socketSink(ws), {
      limit: this.config.streamBuffer,
      shared: allStreams(this.config.streamBufferTotal),
      join: (frames) => Buffer.concat(frames),
      notice: (d) => Buffer.from(`\r\n[gearshift: ${droppedWords(d, 'frames of output')}]\r\n`),
    });
    const lines = new BoundedStream<string>(socketSink(ws), {
      limit: this.config.streamBuffer,
      shared: allStreams(this.config.streamBufferTotal),
      notice: (d) => JSON.stringify({ line: `gearshift: ${droppedWords(d)}`, stream: 'stderr', dropped: d.chunks }),
    });
    const end = await start({
      ...(request.tty ? { tty: request.tty } : {}),
      signal: gone.signal,
      onOutput: (m) => {
        if ('data' in m) screen.write(Buffer.from(m.data, 'base64'));
        else lines.write(JSON.stringify(m));
      },
      ...(request.stdin
        ? {
            onInput: (s: (m: RunInput) => Promise<void>, reads: boolean) => {
              send = s;
              acked = reads;
              if (!reads) {
                unread.length = 0;
                unreadBytes = 0;
              }
              for (const m of early.splice(0)) {
                sentCount++;
                void send(m).catch(() => undefined);
              }
              flow();
            },
            onInputRead: (count: number) => {
              for (; readCount < Math.min(count, sentCount) && unread.length > 0; readCount++) unreadBytes -= unread.shift()!;
              flow();
            },
          }
        : {}),
    });
    if (end && ws.readyState === ws.OPEN) {
      // What the terminal still holds goes first, and what it dropped is said, before the end.
      screen.end();
      lines.end(JSON.stringify(end));
      ws.close(1000);
    }
    return end;
  }
}

const isSize = (s: TerminalSize) => Number.isInteger(s.cols) && Number.isInteger(s.rows) && s.cols > 0 && s.rows > 0 && s.cols <= 1000 && s.rows <= 1000;

/** Answers a request that will not be upgraded with the API's error body, and closes it. */
function refuse(socket: Duplex, err: unknown): void {
  const known = err instanceof GearshiftError;
  const status = known ? ERROR_STATUS[err.code] : 500;
  const body = JSON.stringify(
    known
      ? { statusCode: status, code: err.code, message: err.message, details: err.details }
      : { statusCode: 500, code: 'internal', message: 'internal error; the broker log has the details', details: [] },
  );
  const headers = Object.entries(known ? err.headers : {})
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${headers}connection: close\r\n\r\n${body}`,
  );
}
