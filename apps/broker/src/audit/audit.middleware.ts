import { Injectable, Logger, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { User } from '../users/user.entity';
import type { Session } from '../users/auth.service';
import { describeCall } from './actions';
import { AuditService, readableAddress } from './audit.service';

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PREFIX = /^\/api\/v1(?=\/|$)/;
/** Longer than the longest ?wait= (600 s): an answer the handler still owes comes before. */
const ABANDONED_AFTER_MS = 660_000;

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
    let recorded = false;
    let late: NodeJS.Timeout | undefined;
    const record = (extra: Record<string, unknown> = {}, status = res.statusCode) => {
      if (recorded) return;
      recorded = true;
      clearTimeout(late);
      try {
        this.recordCall(req, status, answer, extra);
      } catch (err) {
        // Describing a call is pure and should not throw; if it does, the call itself has long been answered.
        this.logger.error(`could not describe ${req.method} ${req.originalUrl.split('?')[0]}: ${(err as Error).message}`);
      }
    };
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      answer = body;
      return json(body);
    };
    res.once('close', () => {
      if (res.writableFinished || res.headersSent) return record();
      // The client left before the answer (a ?wait= given up on): the change goes on, and is recorded with the
      // answer the broker gives it, to no one; or, should none ever come, as abandoned.
      const end = res.end.bind(res) as (...args: unknown[]) => Response;
      res.end = ((...args: unknown[]) => {
        const done = end(...args);
        record({ clientLeft: true });
        return done;
      }) as Response['end'];
      // 499, "client closed the request": no answer of the broker's to show.
      late = setTimeout(() => record({ clientLeft: true, unanswered: true }, 499), ABANDONED_AFTER_MS);
      late.unref();
    });
    next();
  }

  private recordCall(req: AuditedRequest, status: number, answer: unknown, extra: Record<string, unknown>): void {
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
    // A call refused before anyone was known is noise (and anyone could fill the log with it), but for a login, whose
    // failures are the point. A node joins with no user: its joining is recorded, its refusals are not.
    if (!user && !what.action.startsWith('session.login') && !(what.action === 'node.join' && status < 400)) return;
    let address = readableAddress(req.ip ?? req.socket.remoteAddress);
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer && req.headers['x-gearshift-source'] === 'git-push') {
      const pusher = this.audit.pushAddress(bearer);
      if (pusher !== undefined) address = pusher;
    }
    const session = req.session;
    this.audit.record(
      { ...what, details: { ...what.details, ...extra } },
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
