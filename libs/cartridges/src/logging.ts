import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * Structured logs of the platform's processes (broker, node agents, router): one JSON object a line, with the part
 * that wrote it and, while it works for one API request, that request's id. The id travels with the work: the broker
 * records it on the operation a request starts, stamps it on the operation's jobs, the agent works on a job under it
 * and stamps it on its reports. So one grep for an id follows an operation from the API to every node and back.
 */

const requestIds = new AsyncLocalStorage<string>();

/** The id of the API request the current work is for, if any. */
export const currentRequestId = (): string | undefined => requestIds.getStore();

/** Runs `work` as part of the request `id` (or as it is, without one). */
export function withRequestId<T>(id: string | undefined, work: () => T): T {
  return id ? requestIds.run(id, work) : work();
}

/**
 * What is never written to a log: credentials in headers, passwords, tokens, and environment values (a gear's
 * environment holds its database passwords). Paths are pino's redaction paths, one level of wildcard.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'password',
  'token',
  'env',
  '*.password',
  '*.token',
  '*.secret',
  '*.env',
  '*.authorization',
];

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** pino's options for a part of the platform: JSON lines on stdout, ISO times, redaction, and the request id. */
export function loggerOptions(part: string, level: LogLevel = 'info'): LoggerOptions {
  return {
    level,
    base: { part },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    // A logger already bound to the request (the broker's request logger) carries the id itself.
    mixin: (_object, _level, logger) => {
      const requestId = currentRequestId();
      return requestId && !('requestId' in logger.bindings()) ? { requestId } : {};
    },
  };
}

/** A logger for one part of the platform, writing JSON lines to stdout. */
export function platformLogger(part: string, level: LogLevel = 'info'): Logger {
  return pino(loggerOptions(part, level));
}
