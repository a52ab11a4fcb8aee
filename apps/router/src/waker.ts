import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppRoute } from '@gearshift/cartridges';
import { targetOf } from './haproxy-config';

export interface WakerDeps {
  /** The app a host name belongs to, as the router serves it now. */
  routeFor(host: string): AppRoute | undefined;
  /** Asks the broker to start the app's web gears. */
  wake(route: AppRoute, host: string): Promise<void>;
  /** Counts a held request as traffic, so the app is not idled again at once. */
  saw(appId: string): void;
  timeoutMs: number;
  /** The node this router runs beside (see targetOf). */
  node: string;
}

const page = (status: number, title: string, text: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>\n`;

/**
 * Receives the requests HAProxy sends to idle apps: asks for the app to be woken, holds the request until the app
 * has a healthy gear in the route table, then forwards it there and streams the answer back.
 */
export class Waker {
  private server?: Server;

  constructor(private readonly deps: WakerDeps) {}

  async listen(port = 0): Promise<number> {
    this.server = createServer(
      (req, res) =>
        void this.handle(req, res).catch((err: Error) => {
          // One held request going wrong (its client left, the route table changed under it) ends only that request.
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`the router could not pass this request on: ${err.message}\n`);
          else res.destroy();
        }),
    );
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (this.server.address() as AddressInfo).port;
  }

  close(): void {
    this.server?.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = (req.headers.host ?? '').split(':')[0].toLowerCase().replace(/\.$/, '');
    let route = this.deps.routeFor(host);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end(page(404, 'No app here', `No app answers to ${host}.`));
      return;
    }
    this.deps.saw(route.appId);
    const deadline = Date.now() + this.deps.timeoutMs;
    let asked = false;
    while (!(route && route.state === 'serving' && route.backends.length > 0)) {
      if (route?.state === 'stopped') {
        res.writeHead(503, { 'content-type': 'text/html; charset=utf-8' }).end(page(503, `${route.app} is stopped`, 'Its owner stopped it.'));
        return;
      }
      if (!asked && route?.state === 'idle') {
        asked = true;
        await this.deps.wake(route, host).catch(() => (asked = false));
      }
      if (Date.now() > deadline || req.destroyed) {
        if (!res.headersSent)
          res
            .writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'retry-after': '5' })
            .end(page(503, 'Still waking up', 'This app was asleep and is taking long to start. Try again in a few seconds.'));
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
      route = this.deps.routeFor(host);
    }
    const backend = targetOf(route.backends[Math.floor(Math.random() * route.backends.length)], this.deps.node);
    const upstream = request(
      { host: backend.host, port: backend.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-gearshift-woken': '1' } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end(`the woken gear did not answer: ${err.message}\n`);
    });
    req.pipe(upstream);
  }
}
