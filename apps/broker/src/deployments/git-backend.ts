import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { Logger } from '@nestjs/common';
import type { BrokerConfig } from '../config';
import { GearshiftError } from '../common/errors';
import type { AppAccess } from '../apps/app-access.service';
import type { AuthService, Session } from '../users/auth.service';
import { readableAddress, type AuditService } from '../audit/audit.service';
import { requireScope } from '../users/auth.guard';

const PATH = /^\/([a-z][a-z0-9]{0,31})\/([a-z][a-z0-9]{0,31})\.git(\/.*)?$/;

/**
 * What is wrong with the part of a git URL after `<app>.git`, if anything. Smart HTTP asks only for plain names
 * (`/info/refs`, `/git-upload-pack`, `/objects/ab/cdef…`): a `.` or `..` segment, escaped or not, a backslash or any
 * other escape would let the path name another repository than the app's, so none of it reaches git.
 */
export function gitPathProblem(rest: string): string | undefined {
  if (/[\\%]/.test(rest)) return 'must not contain backslashes or percent-escapes';
  if (rest.split('/').some((segment) => segment === '.' || segment === '..')) return 'must not contain . or .. segments';
  if (!/^(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*\/?$/.test(rest)) return 'is not a path git serves';
  return undefined;
}

/**
 * `git push` to deploy: git's own http-backend (smart HTTP) serves one bare repository per app, behind the API's
 * tokens (the token is the password; any user name). The repository's pre-receive hook deploys the pushed commit
 * and streams the build back into the push; a failed deployment rejects the push. A push refused here is recorded
 * in the audit log; one let through is recorded by the deployment its hook asks for, from the pusher's address.
 */
export function gitBackend(config: BrokerConfig, auth: AuthService, apps: AppAccess, audit: AuditService, apiUrl: () => string) {
  const root = join(config.dataDir, 'git');
  const hookScript = join(__dirname, 'pre-receive.js');
  const logger = new Logger('git');

  const ensureRepo = (appId: string): void => {
    const dir = join(root, `${appId}.git`);
    if (!existsSync(join(dir, 'HEAD'))) {
      mkdirSync(root, { recursive: true });
      execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', dir]);
      execFileSync('git', ['-C', dir, 'config', 'http.receivepack', 'true']);
    }
    const hook = `#!/bin/sh\n# Deploys what is pushed to main or master; written by Gearshift.\nexec "${process.execPath}" "${hookScript}"\n`;
    const hookPath = join(dir, 'hooks', 'pre-receive');
    if (!existsSync(hookPath) || readFileSync(hookPath, 'utf8') !== hook) writeFileSync(hookPath, hook, { mode: 0o755 });
  };

  const refuse = (res: Response, status: number, message: string) => {
    if (status === 401) res.setHeader('www-authenticate', 'Basic realm="Gearshift (your API token is the password)"');
    res.status(status).type('text/plain').send(`${message}\n`);
  };

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const m = PATH.exec(req.path);
    if (!m) return next();
    const [, domainName, appName, rest = '/'] = m;
    const problem = gitPathProblem(rest);
    if (problem) {
      // The names are checked above; the rest of the path and the query are the client's and stay out of the log.
      logger.warn(`refused a git request for ${domainName}/${appName}: the path after .git ${problem}`);
      res.status(400).json({
        statusCode: 400,
        code: 'invalid_input',
        message: `the git path ${problem}`,
        details: [{ pointer: '', rule: 'git-path', message: problem }],
        requestId: (req as Request & { id?: string }).id,
      });
      return;
    }
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const [user, token] = basic ? Buffer.from(basic[1], 'base64').toString('utf8').split(/:(.*)/s) : [];
    if (!token) return refuse(res, 401, 'Gearshift needs your API token as the password (any user name)');
    let appId: string;
    let username: string;
    let session: Session | undefined;
    const pushing = rest === '/git-receive-pack' || /(^|&)service=git-receive-pack(&|$)/.test(req.url.split('?')[1] ?? '');
    const address = readableAddress(req.ip ?? req.socket.remoteAddress);
    try {
      session = await auth.authenticate(`Bearer ${token}`);
      // Fetching and pushing alike: a `read` token may use the API's GETs, but the repository is for deployers.
      requireScope(session, 'deploy');
      const who = session.user;
      username = who.username;
      appId = (await apps.requireApp(who, domainName, appName, 'develop')).app.id;
    } catch (err) {
      if (err instanceof GearshiftError) {
        const status = err.code === 'unauthorized' ? 401 : err.code === 'forbidden' || err.code === 'insufficient_scope' ? 403 : 404;
        if (session && pushing) {
          audit.record(
            { action: 'deployment.create', target: `${domainName}/${appName}`, domain: domainName, details: { source: 'git', error: err.code } },
            { user: session.user, token: { id: session.tokenId, kind: session.tokenKind, name: session.tokenName }, address },
            status,
          );
        }
        return refuse(res, status, err.message);
      }
      return next(err);
    }
    ensureRepo(appId);
    if (pushing && req.method === 'POST') res.once('close', audit.pushing(token, address));
    let stderr = '';
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: `/${appId}.git${rest}`,
        REQUEST_METHOD: req.method,
        QUERY_STRING: req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        ...(req.headers['content-length'] ? { CONTENT_LENGTH: req.headers['content-length'] } : {}),
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
        REMOTE_USER: username || user || 'git',
        REMOTE_ADDR: req.socket.remoteAddress ?? '',
        // For the pre-receive hook: where to deploy, as whom.
        GEARSHIFT_HOOK_API: apiUrl(),
        GEARSHIFT_HOOK_TOKEN: token,
        GEARSHIFT_HOOK_DOMAIN: domainName,
        GEARSHIFT_HOOK_APP: appName,
      },
    });
    // git missing or not runnable: this push fails, the broker stays (a 'close' event follows and answers).
    child.on('error', (err) => (stderr = `${stderr}${err.message}\n`.slice(-4000)));
    req.pipe(child.stdin);
    child.stdin.on('error', () => undefined);
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        // A pack is not something to drop lines of: a client that reads slowly slows git down instead, and the
        // broker holds one chunk of it at a time, not the whole pack.
        if (!res.write(chunk)) {
          child.stdout.pause();
          res.once('drain', () => child.stdout.resume());
        }
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n') !== -1 ? head.indexOf('\r\n\r\n') : head.indexOf('\n\n');
      if (end === -1) {
        // CGI headers are a few lines; output without an end to them is not something to keep collecting.
        if (head.length > 64 * 1024) child.kill('SIGTERM');
        return;
      }
      const sep = head[end] === 0x0d ? 4 : 2;
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') res.status(parseInt(value, 10) || 200);
        else res.setHeader(name, value);
      }
      headersDone = true;
      res.flushHeaders();
      const body = head.subarray(end + sep);
      if (body.length > 0 && !res.write(body)) {
        child.stdout.pause();
        res.once('drain', () => child.stdout.resume());
      }
    });
    // Only the tail is kept for the error message: git's output to a long push must not grow the broker's heap.
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-4000)));
    child.on('close', (code) => {
      if (!headersDone) {
        logger.error(`git http-backend failed for ${domainName}/${appName} (exit ${code}): ${stderr.trim()}`);
        refuse(res, 500, `git http-backend failed (exit ${code}): ${stderr.trim()}`);
      } else res.end();
    });
    // The client went away: so does git.
    res.on('close', () => {
      if (!res.writableFinished && child.exitCode === null) child.kill('SIGTERM');
    });
  };
}
