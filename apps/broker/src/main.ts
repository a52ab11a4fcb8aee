import 'reflect-metadata';
import { Logger, RequestMethod } from '@nestjs/common';
import { Logger as PinoLogger } from 'nestjs-pino';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { loadCatalog, reportReady, SchemaViolationError, surviveUnexpectedErrors, takingOver, withRequestId } from '@gearshift/cartridges';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AppModule } from './app.module';
import { CatalogService } from './cartridges/catalog.service';
import { ConfigError, loadConfig, type BrokerConfig } from './config';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './database/data-source';
import { prepareDatabase } from './database/prepare';
import { loadSecretKey, useSecretKey } from './common/secrets';
import { AuthService } from './users/auth.service';
import { AppAccess } from './apps/app-access.service';
import { gitBackend } from './deployments/git-backend';
import { AuditService } from './audit/audit.service';
import { urlProblem } from './common/body';
import { Metrics } from './metrics/metrics';
import { routeLabel } from './common/http-requests';
import { limitConnections, refusalLog } from './common/connection-limits';
import { consoleFiles } from './common/console-files';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';

async function main(): Promise<void> {
  const config = loadConfig();
  const catalog = loadCatalog(config.cartridgesDir);
  const logger = new Logger('broker');
  surviveUnexpectedErrors((message) => logger.error(message));
  useSecretKey(loadSecretKey(config.secretKey, config.dataDir));
  if (process.argv[2] === 'migrate') {
    const dataSource = await new DataSource(dataSourceOptions(config.databaseUrl)).initialize();
    try {
      await prepareDatabase(dataSource, logger);
    } finally {
      await dataSource.destroy();
    }
    return;
  }

  // The database module migrates and seals before the rest of the broker is built (database/database.module.ts).
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config, catalog), {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
  });
  // Every log line of the broker is pino's JSON (common/http-requests.ts), Nest's own included.
  app.useLogger(app.get(PinoLogger));
  const metrics = app.get(Metrics);
  // No global body parser: each route reads its own body, after authentication (common/body.ts).
  app.use((req: Request & { id?: string }, res: Response, next: NextFunction) => {
    req.id = (req.headers['x-request-id'] as string | undefined)?.slice(0, 64) || randomUUID();
    res.setHeader('x-request-id', req.id);
    // Counted by the route it took once answered; the work it starts (operations, jobs) carries its id.
    const started = process.hrtime.bigint();
    res.on('finish', () => metrics.request(routeLabel(req), req.method, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9));
    withRequestId(req.id, next);
  });
  app.use((req: Request & { id?: string }, res: Response, next: NextFunction) => {
    const problem = urlProblem(req.url);
    if (!problem) return next();
    res.status(400).json({ statusCode: 400, code: 'invalid_input', message: `the URL ${problem.message}`, details: [problem], requestId: req.id });
  });
  // git push: smart HTTP at /git/<domain>/<app>.git, outside the API's prefix.
  const apiHost = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  app.use(
    '/git',
    gitBackend(
      config,
      app.get(AuthService),
      app.get(AppAccess),
      app.get(AuditService),
      () => `http://${apiHost.includes(':') ? `[${apiHost}]` : apiHost}:${(app.getHttpServer().address() as AddressInfo).port}`,
    ),
  );
  // The web console: its page at / and its own routes, its hashed assets under /assets (common/console-files.ts).
  app.use(consoleFiles());
  // GET /metrics stays where Prometheus looks by default.
  app.setGlobalPrefix('api/v1', { exclude: [{ path: 'metrics', method: RequestMethod.GET }] });
  app.enableShutdownHooks();

  await app.get(CatalogService).publish();
  await app.get(AuthService).ensureAdmin();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Gearshift API')
      .setDescription('Domains, apps, cartridges, gears, nodes and operations of a Gearshift platform')
      .setVersion('v1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });

  // Clients keep connections open between calls and reuse them; a server that closes an idle one at the moment a
  // client sends on it (Node's default is after 5 s) makes that request fail with a reset. Idle connections stay
  // open for a minute, longer than a client's pause between calls; headers still have to arrive within that bound.
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  if (takingOver()) await takeOver(app, config, logger);
  else await app.listen(config.port, config.host);
  const url = await app.getUrl();
  reportReady({ serving: true, healthUrl: `${url.replace('[::1]', '127.0.0.1')}/api/v1/healthz` });
  logger.log(`Gearshift broker listening on ${url.replace('[::1]', '127.0.0.1')}/api/v1 (instance ${config.instance})`);
  const advertised = await listenOnAdvertised(config, app, server, logger);
  limitConnections(
    advertised ? [server, advertised] : [server],
    { total: config.maxConnections, perAddress: config.maxConnectionsPerAddress },
    refusalLog((line) => logger.warn(line)),
  );
}

/**
 * Nodes on other hosts reach the API at the advertised address: the same app answers there, on the same port, while
 * GEARSHIFT_HOST (loopback by default) keeps serving this host. It closes with the main server.
 */
async function listenOnAdvertised(config: BrokerConfig, app: NestExpressApplication, server: Server, logger: Logger): Promise<Server | undefined> {
  const wildcard = ['0.0.0.0', '::'].includes(config.host);
  if (!config.advertiseAddress || config.advertiseAddress === config.host || wildcard) return undefined;
  const port = (server.address() as AddressInfo).port;
  const advertised = createServer(app.getHttpAdapter().getInstance() as RequestListener);
  advertised.keepAliveTimeout = server.keepAliveTimeout;
  advertised.headersTimeout = server.headersTimeout;
  await new Promise<void>((resolve, reject) => {
    advertised.once('error', reject);
    advertised.listen(port, config.advertiseAddress, () => resolve());
  });
  server.once('close', () => {
    advertised.close();
    advertised.closeAllConnections();
  });
  logger.log(`and on ${config.advertiseAddress}:${port} for nodes on other hosts`);
  return advertised;
}

/** Whether `port` can be listened on now (the broker being replaced has let it go). */
function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createTcpServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/**
 * Replacing a running broker (an upgrade): this broker is built and connected while the older one still holds the
 * platform's port. It answers its health endpoint on a loopback port of its own until then, so the supervisor can
 * check it before stopping the older one, and takes the platform's port as soon as it is free.
 */
async function takeOver(app: NestExpressApplication, config: BrokerConfig, logger: Logger): Promise<void> {
  await app.init();
  const side = createServer(app.getHttpAdapter().getInstance() as RequestListener);
  await new Promise<void>((resolve, reject) => side.once('error', reject).listen(0, '127.0.0.1', resolve));
  const sidePort = (side.address() as AddressInfo).port;
  reportReady({ serving: false, healthUrl: `http://127.0.0.1:${sidePort}/api/v1/healthz` });
  logger.log(`ready to take over: answering on 127.0.0.1:${sidePort} until port ${config.port} is free`);
  const deadline = Date.now() + 300_000;
  while (!(await portFree(config.port, config.host))) {
    if (Date.now() > deadline) throw new Error(`port ${config.port} stayed taken for 5 minutes: the broker being replaced did not stop`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await app.listen(config.port, config.host);
  side.close();
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof SchemaViolationError) {
    console.error(`gearshift broker: ${err.message}`);
    process.exit(2);
  }
  // What the broker logged before it failed is still held back (bufferLogs): it is printed first, as it happened.
  Logger.flush();
  console.error('gearshift broker failed to start:', err);
  process.exit(1);
});
