import { randomUUID } from 'node:crypto';
import type { Params } from 'nestjs-pino';
import { loggerOptions, type LogLevel } from '@gearshift/cartridges';
import { isConsolePath } from './console-files';

/** HTTP methods that get a label of their own; any other is counted as "other", so a client cannot add series. */
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/**
 * The label of a request's route: the template it matched (`/api/v1/domains/:domain/apps/:app`), never the raw path,
 * so the number of series stays bounded whatever clients ask for. Requests no route took are one series.
 */
export function routeLabel(req: { route?: { path?: unknown }; baseUrl?: string; originalUrl?: string; url?: string }): string {
  const template = req.route?.path;
  // A wildcard route is a middleware's (Nest registers some as routes), not a handler's: the request found none.
  if (typeof template === 'string' && !/[*{]/.test(template)) return `${req.baseUrl ?? ''}${template}`;
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
  if (path === '/git' || path.startsWith('/git/')) return '/git';
  if (isConsolePath(path)) return '/console';
  return 'unmatched';
}

export const methodLabel = (method: string | undefined): string => (method && METHODS.has(method) ? method : 'other');

/**
 * The broker's logger (nestjs-pino over pino-http): JSON lines as every part of the platform writes them, at the
 * configured level, each line of a request's work with the request's id (the one in its X-Request-Id answer). A
 * request's own line names its route template, not its path: paths and query strings may carry one-time tokens.
 */
export function brokerLogging(level: LogLevel): Params {
  return {
    pinoHttp: {
      ...loggerOptions('broker', level),
      genReqId: (req) => (req as { id?: string }).id ?? randomUUID(),
      quietReqLogger: true,
      customAttributeKeys: { reqId: 'requestId' },
      // Probes and scrapes would drown everything else.
      autoLogging: { ignore: (req) => /^\/(metrics|api\/v1\/(healthz|livez|readyz))(\?|$)/.test(req.url ?? '') },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
      customSuccessMessage: (req, res, ms) => `${methodLabel(req.method)} ${routeLabel(req as never)} ${res.statusCode} in ${Math.round(ms)} ms`,
      customErrorMessage: (req, res, err) => `${methodLabel(req.method)} ${routeLabel(req as never)} ${res.statusCode}: ${err.message}`,
      // The route is known once the request was routed, so it is added to the request's line as it ends; the request
      // itself is serialized as it arrives (pino binds it to the request's logger then), before any route took it.
      customSuccessObject: (req, _res, line: object) => ({ ...line, route: routeLabel(req as never) }),
      customErrorObject: (req, _res, _err, line: object) => ({ ...line, route: routeLabel(req as never) }),
      serializers: {
        req: (req: { method?: string }) => ({ method: req.method }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
  };
}
