import { CanActivate, ExecutionContext, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { GearshiftError } from '../common/errors';
import { AuthService, type Session } from './auth.service';
import { grants, neededScope, type Scope } from './scopes';
import type { User } from './user.entity';

const PUBLIC = 'gearshift:public';
const SCOPE = 'gearshift:scope';
/** Marks a route that needs no token (login, health, node registration with its own join token). */
export const Public = () => SetMetadata(PUBLIC, true);
/**
 * The scope a route needs when it is not the default (`read` for GET, `admin` for the rest): deployments declare
 * `deploy`, so that a CI token can ship code and do nothing else.
 */
export const NeedsScope = (scope: Scope) => SetMetadata(SCOPE, scope);

type AuthedRequest = Request & { user?: User; session?: Session };

/**
 * Every route needs a valid bearer token unless it is marked @Public(), and the token must hold the route's scope:
 * a token without it is answered 403 `insufficient_scope`, naming the scope.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly auth: AuthService,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const session = await this.auth.authenticate(req.headers.authorization);
    // Known before the scope is checked, so that a refusal is recorded with who was refused.
    req.session = session;
    req.user = session.user;
    requireScope(session, neededScope(req.method, this.reflector.getAllAndOverride<Scope | undefined>(SCOPE, targets)));
    return true;
  }
}

/** Refuses a session whose token lacks `scope` (the git backend checks pushes with it too). */
export function requireScope(session: Session, scope: Scope): void {
  if (!grants(session.scopes, scope)) {
    throw new GearshiftError('insufficient_scope', `this token lacks the scope "${scope}" (it has: ${session.scopes.join(', ')})`, [
      { pointer: '', rule: 'scope', message: `needs the scope "${scope}"` },
    ]);
  }
}

export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): User => {
  return ctx.switchToHttp().getRequest<AuthedRequest>().user!;
});

/** The user and the token a call came with (to revoke that token, or to keep it). */
export const CurrentSession = createParamDecorator((_: unknown, ctx: ExecutionContext): Session => {
  return ctx.switchToHttp().getRequest<AuthedRequest>().session!;
});
