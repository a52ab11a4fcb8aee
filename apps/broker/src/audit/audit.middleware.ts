import { Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { User } from '../users/user.entity';
import type { Session } from '../users/auth.service';
import { describeCall } from './actions';
import { AuditService, readableAddress } from './audit.service';

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PREFIX = /^\/api\/v1(?=\/|$)/;

type AuditedRequest = Request & { user?: User; session?: Session };

/**
 * Records every changing call of the API once it has been answered, whatever answered it: the handler, a pipe that
 * refused the body, the guard that refused the token's scope, the error filter. The route is known only once the
 * router has matched it, and the user once the guard has run, so both are read when the answer has gone.
 */
@Injectable()
export class AuditMiddleware implements NestMiddleware {
  private readonly logger = new Logger('audit');

  constructor(private readonly audit: AuditService) {}

  use(req: AuditedRequest, res: Response, next: NextFunction): void {
    if (!CHANGES.has(req.method)) return next();
    let answer: unknown;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      answer = body;
      return json(body);
    };
    res.once('close', () => {
      try {
        this.recordCall(req, res.statusCode, answer);
      } catch (err) {
        // Describing a call is pure and should not throw; if it does, the call itself has long been answered.
        this.logger.error(`could not describe ${req.method} ${req.originalUrl.split('?')[0]}: ${(err as Error).message}`);
      }
    });
    next();
  }

  private recordCall(req: AuditedRequest, status: number, answer: unknown): void {
    const pattern = (req.route as { path?: unknown } | undefined)?.path;
    if (typeof pattern !== 'string') return; // no route matched: nothing was changed
    const route = pattern.replace(PREFIX, '').replace(/(.)\/$/, '$1') || '/';
    const what = describeCall(
      {
        method: req.method,
        route,
        params: { ...(req.params as Record<string, string>) },
        query: req.query as Record<string, unknown>,
        body: req.body,
        headers: req.headers,
      },
      status,
    );
    if (!what) return;
    const user = req.user ?? null;
    // A call refused before anyone was known is noise, but for a login, whose failures are the point.
    if (!user && !what.action.startsWith('session.login') && what.action !== 'node.join') return;
    let address = readableAddress(req.ip ?? req.socket.remoteAddress);
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer && req.headers['x-gearshift-source'] === 'git-push') {
      const pusher = this.audit.pushAddress(bearer);
      if (pusher !== undefined) address = pusher;
    }
    const session = req.session;
    this.audit.record(
      what,
      {
        user,
        username: what.action.startsWith('session.login') ? (what.target ?? null) : null,
        token: session ? { id: session.tokenId, kind: session.tokenKind, name: session.tokenName } : null,
        address,
      },
      status,
      answer,
    );
  }
}
