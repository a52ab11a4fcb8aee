import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { ApiExcludeEndpoint } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { BROKER_CONFIG, type BrokerConfig } from '../config';
import { GearshiftError } from '../common/errors';
import { Metrics } from '../metrics/metrics';
import { Public } from '../users/auth.guard';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Whether a scraper may read the metrics: with GEARSHIFT_METRICS_TOKEN as its bearer token, else from loopback. */
export function mayReadMetrics(token: string | undefined, authorization: string | undefined, remoteAddress: string | undefined): boolean {
  if (!token) return LOOPBACK.has(remoteAddress ?? '');
  const given = Buffer.from(/^Bearer (.+)$/i.exec(authorization ?? '')?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * Whether a Host header is one a loopback scraper sends: an IP address, `localhost`, or a name of this broker
 * (`names`: its host name, its listening and advertised addresses). Any other name reaching loopback is a page in a
 * browser on this host whose name an attacker made resolve to 127.0.0.1 (DNS rebinding): it must not read every
 * tenant's names.
 */
export function isScraperHost(host: string | undefined, names: readonly string[]): boolean {
  if (!host) return true; // HTTP/1.0 without Host: no browser sends that
  const bare = (host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '')).toLowerCase().replace(/\.$/, '');
  if (isIP(bare)) return true;
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  return names.some((n) => n && n.toLowerCase() === bare);
}

/** GET /metrics (outside /api/v1, where Prometheus looks by default): Prometheus's text format. */
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: Metrics,
    @Inject(BROKER_CONFIG) private readonly config: BrokerConfig,
  ) {}

  @Public()
  @Get()
  @ApiExcludeEndpoint()
  @Header('cache-control', 'no-store')
  async scrape(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<string> {
    if (!mayReadMetrics(this.config.metricsToken, req.headers.authorization, req.socket.remoteAddress)) {
      throw this.config.metricsToken
        ? new GearshiftError('unauthorized', 'GET /metrics needs the bearer token set in GEARSHIFT_METRICS_TOKEN')
        : new GearshiftError('forbidden', 'GET /metrics answers this host alone; set GEARSHIFT_METRICS_TOKEN to let a scraper elsewhere read it');
    }
    // With a token the token is the proof; from loopback the Host header has to be one a scraper sends.
    if (!this.config.metricsToken && !isScraperHost(req.headers.host, [hostname(), this.config.host, this.config.advertiseAddress])) {
      throw new GearshiftError(
        'forbidden',
        'GET /metrics from loopback answers requests for this host alone (Host: localhost, an IP address or its name), not for other names',
      );
    }
    res.type(this.metrics.contentType);
    return this.metrics.text();
  }
}
