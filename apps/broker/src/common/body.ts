import { valueProblem } from '@gearshift/cartridges';
import { applyDecorators, CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiConsumes } from '@nestjs/swagger';
import bodyParser from 'body-parser';
import type { Request, RequestHandler, Response } from 'express';
import { from, switchMap, type Observable } from 'rxjs';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { GearshiftError } from './errors';

/**
 * Request bodies are read per route, after authentication, never by a global parser: a route takes only the media
 * types it documents, each up to a limit of its own. So a request to a route that takes no body, a request without
 * a valid token, or a body of the wrong kind is answered without reading what was sent, and no request can make the
 * broker hold more than its route's limit.
 */

/** What a body is parsed into: JSON, YAML text (a gearshift.yml), or the bytes of a .tar.gz. */
export type BodyKind = 'json' | 'yaml' | 'archive';

/** `public`: routes anyone may call (login, node registration); `api`: GEARSHIFT_MAX_JSON_BODY; `upload`: GEARSHIFT_MAX_UPLOAD_MB. */
export type BodyLimit = 'public' | 'api' | 'upload';

export type BodyPolicy = Partial<Record<BodyKind, BodyLimit>>;

export const MEDIA_TYPES: Record<BodyKind, readonly string[]> = {
  json: ['application/json'],
  yaml: ['text/yaml', 'application/yaml', 'application/x-yaml', 'text/x-yaml', 'text/plain'],
  archive: ['application/gzip', 'application/x-gzip', 'application/x-tar+gzip', 'application/octet-stream'],
};

/** A few KB: what a login or a node's registration needs, and all an anonymous caller can make the broker read. */
export const PUBLIC_BODY_BYTES = 8 * 1024;

/** JSON nested deeper than this is refused before anything walks it (recursion in stringify, YAML, logs). */
export const MAX_JSON_DEPTH = 32;

const BODY_POLICY = 'gearshift:body';

/** The media types a route takes and the limit of each; the same list documents the route in OpenAPI. */
export const AcceptsBody = (policy: BodyPolicy) =>
  applyDecorators(SetMetadata(BODY_POLICY, policy), ApiConsumes(...(Object.keys(policy) as BodyKind[]).flatMap((k) => MEDIA_TYPES[k])));

/** The media type of a Content-Type header, without parameters, lowercased ("" when there is none). */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/**
 * What makes a URL unusable before any route looks at it: a NUL, escaped or not (it names nothing in Gearshift, and
 * Postgres refuses it in text), or a path that is not valid percent-encoded UTF-8.
 */
export function urlProblem(url: string): { pointer: string; rule: string; message: string } | undefined {
  if (url.includes('\0') || /%00/i.test(url)) return { pointer: '', rule: 'no-nul', message: 'must not contain NUL characters' };
  const path = url.split('?')[0];
  try {
    decodeURIComponent(path);
  } catch {
    return { pointer: '', rule: 'url-encoding', message: 'path must be valid percent-encoded UTF-8' };
  }
  return undefined;
}

/**
 * body-parser's errors that the error filter knows by type (too large, bad JSON, unsupported charset) pass as they
 * are; any other failure to read a body (a Content-Encoding that does not decode, a connection cut half-way) is
 * the sender's: 400, not an internal error.
 */
function unreadable(err: unknown): unknown {
  const e = err as { type?: string; status?: number; message?: string };
  if (typeof e?.type === 'string' && ['entity.too.large', 'entity.parse.failed', 'encoding.unsupported', 'charset.unsupported'].includes(e.type)) return err;
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new GearshiftError('invalid_input', `the body could not be read: ${e.message ?? 'unknown reason'}`, [
      { pointer: '', rule: 'readable', message: 'could not be read' },
    ]);
  }
  return err;
}

const hasBody = (req: Request) =>
  req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

@Injectable()
export class BodyInterceptor implements NestInterceptor {
  private readonly parsers = new Map<string, RequestHandler>();

  constructor(
    private readonly reflector: Reflector,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const policy = ctx.getType() === 'http' ? this.reflector.get<BodyPolicy | undefined>(BODY_POLICY, ctx.getHandler()) : undefined;
    const req = ctx.switchToHttp().getRequest<Request>();
    // A route that documents no body ignores one; it is never read (Node discards it after the answer).
    if (!policy || !hasBody(req)) return next.handle();
    return from(this.read(req, ctx.switchToHttp().getResponse<Response>(), policy)).pipe(switchMap(() => next.handle()));
  }

  private async read(req: Request, res: Response, policy: BodyPolicy): Promise<void> {
    const type = mediaType(req.headers['content-type']);
    const kind = (Object.keys(policy) as BodyKind[]).find((k) => MEDIA_TYPES[k].includes(type));
    if (!kind) {
      const accepted = (Object.keys(policy) as BodyKind[]).flatMap((k) => MEDIA_TYPES[k]);
      throw new GearshiftError('unsupported_media_type', `this route takes ${accepted.join(', ')}, not ${type || 'a body without a Content-Type'}`, [
        { pointer: '', rule: 'content-type', message: `must be one of ${accepted.join(', ')}` },
      ]);
    }
    const limit = this.limitBytes(policy[kind]!);
    const declared = Number(req.headers['content-length']);
    // Refused on the declared length alone: nothing of a body that is too large is read.
    if (Number.isFinite(declared) && declared > limit) {
      throw new GearshiftError('too_large', `the request body is larger than the limit of ${limit} bytes`, [
        { pointer: '', rule: 'max-size', message: `must be at most ${limit} bytes` },
      ]);
    }
    await new Promise<void>((resolve, reject) => this.parser(kind, limit)(req, res, (err?: unknown) => (err ? reject(unreadable(err)) : resolve())));
    const bad = kind === 'json' ? valueProblem(req.body, MAX_JSON_DEPTH) : undefined;
    if (bad) throw new GearshiftError('invalid_input', `${bad.pointer || 'the body'} ${bad.message}`, [bad]);
  }

  private limitBytes(limit: BodyLimit): number {
    if (limit === 'public') return PUBLIC_BODY_BYTES;
    if (limit === 'upload') return this.config.maxUploadBytes;
    return this.config.maxJsonBody;
  }

  private parser(kind: BodyKind, limit: number): RequestHandler {
    const key = `${kind}:${limit}`;
    let parser = this.parsers.get(key);
    if (!parser) {
      const type = [...MEDIA_TYPES[kind]];
      parser =
        kind === 'json'
          ? bodyParser.json({ limit, type, strict: true })
          : kind === 'yaml'
            ? bodyParser.text({ limit, type, defaultCharset: 'utf-8' })
            : bodyParser.raw({ limit, type });
      this.parsers.set(key, parser);
    }
    return parser;
  }
}
