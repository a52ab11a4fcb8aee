import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { SchemaViolationError, YamlLimitError } from '@gearshift/cartridges';
import type { Request, Response } from 'express';
import { ERROR_STATUS, GearshiftError, type ErrorCode } from './errors';
import { methodLabel, routeLabel } from './http-requests';

interface ErrorBody {
  statusCode: number;
  code: string;
  message: string;
  details: unknown;
  requestId?: string;
}

/** The one place where errors become HTTP answers: `{statusCode, code, message, details, requestId}`. */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request & { id?: string }>();
    const res = http.getResponse<Response>();
    const store = storeUnavailable(error);
    const body = this.toBody(error, store);
    body.requestId = req.id;
    if (store) {
      // Logged, without the stack: the store's own log says more, and an overload would repeat it by the thousand.
      this.logger.warn(`${methodLabel(req.method)} ${routeLabel(req)} [${req.id}] answered 503: ${store}`);
      if (!res.headersSent) res.set('Retry-After', '2');
    }
    if (body.statusCode >= 500 && body.code === 'internal') {
      // The route's template, not the path: paths and query strings may carry one-time tokens (common/http-requests.ts).
      this.logger.error(`${methodLabel(req.method)} ${routeLabel(req)} [${req.id}] ${(error as Error)?.stack ?? String(error)}`);
    }
    if (!res.headersSent && error instanceof GearshiftError) res.set(error.headers);
    if (!res.headersSent) res.status(body.statusCode).json(body);
    else res.end();
  }

  private toBody(error: unknown, store: string | undefined): ErrorBody {
    if (error instanceof GearshiftError) {
      return { statusCode: ERROR_STATUS[error.code], code: error.code, message: error.message, details: error.details };
    }
    // A YAML document too large to read breaks a rule; its fields were never looked at.
    if (error instanceof YamlLimitError) {
      const [v] = error.violations;
      return { statusCode: ERROR_STATUS.rule_violation, code: 'rule_violation', message: `${error.subject} ${v.message}`, details: error.violations };
    }
    if (error instanceof SchemaViolationError) {
      const first = error.violations[0];
      const more = error.more > 0 ? ` (and ${error.violations.length - 1 + error.more} more problems)` : '';
      const message = first ? `${first.pointer || 'the body'} ${first.message}${more}` : 'the request is not valid';
      // Beyond the first few, a count: a broken body of any size gets an answer of bounded size.
      const details =
        error.more > 0 ? [...error.violations, { pointer: '', rule: 'more', message: `${error.more} more problems are not listed` }] : error.violations;
      return { statusCode: 400, code: 'invalid_input', message, details };
    }
    // Errors raised by body-parser before any route runs (bad JSON, body too large); the adapter wraps them.
    const e = (error instanceof HttpException && error.cause ? error.cause : error) as {
      type?: string;
      status?: number;
      statusCode?: number;
      message?: string;
      limit?: number;
    };
    if (e?.type === 'entity.too.large') {
      return { statusCode: 413, code: 'too_large', message: `the request body is larger than the limit of ${e.limit} bytes`, details: [] };
    }
    if (e?.type === 'entity.parse.failed') {
      // The parser reads objects and arrays only, and says of any other JSON value that it is not JSON.
      const value = jsonValue((e as { body?: unknown }).body);
      if (value !== undefined) {
        const kind = value === null ? 'null' : typeof value;
        return {
          statusCode: 400,
          code: 'invalid_input',
          message: `the body must be a JSON object, not ${kind}`,
          details: [{ pointer: '', rule: 'type', message: 'must be object' }],
        };
      }
      return {
        statusCode: 400,
        code: 'invalid_input',
        message: `the body is not valid JSON: ${e.message}`,
        details: [{ pointer: '', rule: 'json', message: 'is not valid JSON' }],
      };
    }
    if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
      return { statusCode: 415, code: 'unsupported_media_type', message: e.message ?? 'unsupported encoding', details: [] };
    }
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const code = (Object.entries(ERROR_STATUS).find(([, s]) => s === status)?.[0] as ErrorCode | undefined) ?? 'http_error';
      const message = status === 404 ? 'no such path in the API' : error.message;
      return { statusCode: status, code, message, details: [] };
    }
    if (store)
      return { statusCode: 503, code: 'unavailable', message: `the broker's database is not answering now (${store}); try again in a moment`, details: [] };
    return { statusCode: 500, code: 'internal', message: 'internal error; the broker log has the details', details: [] };
  }
}

/**
 * Why the broker's database could not serve a request, when that is what an error says: its connection pool had no
 * connection free within its wait (the broker is loaded), or a connection was refused or lost (Postgres restarts).
 * Such a request did nothing, and may be sent again: 503, not an internal error.
 */
export function storeUnavailable(error: unknown): string | undefined {
  const e = error as { message?: unknown; code?: unknown; syscall?: unknown; driverError?: { message?: unknown; code?: unknown; syscall?: unknown } } | null;
  const message = String(e?.driverError?.message ?? e?.message ?? '');
  const code = String(e?.driverError?.code ?? e?.code ?? '');
  if (/timeout exceeded when trying to connect/i.test(message)) return 'no connection to it came free in time';
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03'].includes(code)) return 'it refused or closed the connection';
  // Over its Unix socket, a Postgres that is stopped (restarting) has no socket file to connect to.
  if (code === 'ENOENT' && (e?.driverError?.syscall ?? e?.syscall) === 'connect') return 'its socket is not there';
  if (/Connection terminated|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(message))
    return 'it closed the connection';
  return undefined;
}

/** The JSON value `body` holds when it is valid JSON at all (a scalar, which the body parser refuses as not JSON). */
function jsonValue(body: unknown): unknown {
  if (typeof body !== 'string' || body.length > 4096) return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}
