import { createHash } from 'node:crypto';
import type { AppRoute, RouteBackend, RouteTable } from '@gearshift/cartridges';

/** Everything the router writes for HAProxy: the configuration, the host map and the certificates. */
export interface RenderedConfig {
  config: string;
  hostsMap: string;
  /** File name (in the certificate folder) → PEM. */
  certificates: Record<string, string>;
  /**
   * HAProxy's crt-list: each alias certificate with the one host name (SNI) it is served for. A certificate is never
   * served by the names it lists itself, so a certificate that also names another tenant's host serves only its own.
   */
  crtList: string;
}

export interface RenderOptions {
  runDir: string;
  bind: string;
  port: number;
  tlsPort: number;
  /** Where the router's waker listens: idle apps are routed to it. */
  wakerPort: number;
  /** Concurrent connections; HAProxy needs about two file descriptors for each. */
  maxConnections: number;
  /** The operator's certificate for the apps domain (PEM file path), served when no alias certificate matches. */
  defaultCertificate?: string;
  /** The node this router runs beside: its gears are reached at their own addresses, past Docker's port proxy. */
  node: string;
  /** Names the configuration; HAProxy reports it on its stats socket, so the router can tell which one serves. */
  description?: string;
}

/** Where a router beside `node` sends a gear's traffic. */
export function targetOf(b: RouteBackend, node: string): { host: string; port: number } {
  return b.inside && b.node === node ? b.inside : { host: b.host, port: b.port };
}

const backendName = (r: AppRoute) => `app_${r.appId.replace(/-/g, '')}${r.service ? `_svc_${r.service.replace(/-/g, '_')}` : ''}`;
const certName = (host: string) => `${host.replace(/[^a-z0-9.-]/g, '_')}-${createHash('sha256').update(host).digest('hex').slice(0, 8)}.pem`;

/**
 * Renders the route table into an HAProxy configuration. Pure: the same table always gives the same text, so the
 * router reloads only when something really changed.
 */
export function renderHaproxy(table: RouteTable, o: RenderOptions): RenderedConfig {
  const lines: string[] = [];
  const certificates: Record<string, string> = {};
  const map: string[] = [];
  const tls = table.apps.flatMap((a) => a.tls);
  for (const t of tls) certificates[certName(t.host)] = t.pem;
  const crtList = tls
    .map((t) => `${o.runDir}/certs/${certName(t.host)} ${t.host}`)
    .sort()
    .map((l) => `${l}\n`)
    .join('');
  const hasTls = tls.length > 0 || Boolean(o.defaultCertificate);

  lines.push(
    'global',
    '  master-worker',
    ...(o.description ? [`  description ${o.description}`] : []),
    `  maxconn ${o.maxConnections}`,
    `  stats socket ${o.runDir}/admin.sock mode 600 level admin expose-fd listeners`,
    `  pidfile ${o.runDir}/haproxy.pid`,
    // Old workers left by a reload serve their open connections for at most this long.
    '  hard-stop-after 2m',
    '',
    'defaults',
    '  mode http',
    '  option dontlognull',
    '  option forwardfor',
    // On reload, an idle keep-alive client connection gets one more answer with "Connection: close" instead of being
    // closed under a client that may be sending on it.
    '  option idle-close-on-response',
    '  option redispatch 1',
    '  retries 3',
    '  retry-on conn-failure empty-response',
    '  timeout connect 3s',
    '  timeout client 60s',
    '  timeout server 60s',
    '  timeout http-request 15s',
    '  timeout http-keep-alive 15s',
    '  timeout tunnel 1h',
    '  timeout client-fin 5s',
    `  errorfile 503 ${o.runDir}/pages/unavailable.http`,
    '',
    'frontend gearshift',
    `  bind ${o.bind}:${o.port}`,
  );
  if (hasTls) {
    // The first certificate declared is the one served when no SNI matches: the operator's. Without one, that would
    // be the first alias certificate, served for every other name; strict-sni refuses such a handshake instead.
    const crts = [
      o.defaultCertificate ? `crt ${o.defaultCertificate}` : '',
      tls.length > 0 ? `crt-list ${o.runDir}/certs.list` : '',
      o.defaultCertificate ? '' : 'strict-sni',
    ]
      .filter(Boolean)
      .join(' ');
    lines.push(`  bind ${o.bind}:${o.tlsPort} ssl ${crts} alpn http/1.1`);
    lines.push('  http-request set-header X-Forwarded-Proto https if { ssl_fc }');
  }
  lines.push(
    '  http-request set-header X-Forwarded-Proto http if !{ ssl_fc }',
    // An HTTP/1.0 request may come without a Host header: it names no app, which is the client's error.
    '  http-request return status 400 content-type "text/plain; charset=utf-8" string "a request names the app it is for in its Host header" if !{ req.hdr(host) -m found }',
    // The host name without its port, in lower case, and without the trailing dot of a fully qualified name.
    '  http-request set-var(txn.host) req.hdr(host),field(1,:),lower,regsub(\\.$,)',
    `  use_backend %[var(txn.host),map(${o.runDir}/hosts.map,gs_unknown_host)]`,
    '',
    'backend gs_unknown_host',
    `  http-request return status 404 content-type "text/html; charset=utf-8" file ${o.runDir}/pages/unknown-host.html`,
    '',
  );
  for (const r of table.apps) {
    const name = backendName(r);
    for (const h of r.hosts) map.push(`${h} ${r.state === 'stopped' ? `${name}_stopped` : name}`);
    if (r.state === 'stopped') {
      const page = r.failure
        ? `<!doctype html><title>${r.app}: the deployment failed</title><h1>The deployment of ${r.app} failed</h1><p>${pageText(r.failure)}</p><p>${r.app}-${r.domain} serves again once a deployment works.</p>`
        : `<!doctype html><title>${r.app} is stopped</title><h1>${r.app} is stopped</h1><p>The owner of ${r.app}-${r.domain} has stopped this app. Start it again to serve it.</p>`;
      lines.push(
        `backend ${name}_stopped`,
        `  http-request return status 503 content-type "text/html; charset=utf-8" hdr Retry-After 30 lf-string "${page}"`,
        '',
      );
      continue;
    }
    if (r.state === 'idle') {
      // The waker holds the request, has the app started, then answers it from a fresh gear.
      lines.push(`backend ${name}`, '  timeout server 120s', `  server waker 127.0.0.1:${o.wakerPort}`, '');
      continue;
    }
    lines.push(`backend ${name}`, '  balance roundrobin');
    // The rollout's check, held every second. When any answer counts, the rollout has seen the gear answer HTTP, and
    // what is left to watch is that it still takes connections: an HTTP request a second would run the app's own
    // root page (a database query, say) for nothing. A named path is the app's promise of a cheap answer. Without a
    // status, HAProxy's own default holds: 2xx and 3xx.
    const h = r.health;
    if (h?.kind === 'http' && h.status !== 'any') {
      lines.push(`  option httpchk GET ${h.path}`);
      if (h.status !== undefined) lines.push(`  http-check expect status ${h.status}`);
    }
    // A gear that refuses or drops a connection is taken out at once, until its health check passes again.
    if (h) lines.push('  default-server inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down');
    for (const b of r.backends) {
      const t = targetOf(b, o.node);
      lines.push(`  server gear_${b.gearId.replace(/-/g, '')} ${t.host}:${t.port}${h ? ' check' : ''}`);
    }
    lines.push('');
  }
  return { config: `${lines.join('\n')}\n`, hostsMap: map.length ? `${map.sort().join('\n')}\n` : '', certificates, crtList };
}

/**
 * Text from outside (a failure reason, which quotes what an app did) made safe for the inside of an HAProxy
 * lf-string and of HTML: only plain characters, with markup, quotes, escapes and log-format variables left out.
 */
export function pageText(text: string): string {
  return text
    .replace(/[^A-Za-z0-9 .,:;()/_+=@'-]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

/** The HAProxy backend that serves an app, as named in the configuration and the statistics. */
export { backendName };

export const UNKNOWN_HOST_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>No app here</title></head>
<body><h1>No app answers to this host name</h1>
<p>Gearshift serves apps at <code>http://&lt;app&gt;-&lt;domain&gt;.&lt;apps domain&gt;</code> and at their aliases.
Check the name, or add it as an alias of your app.</p></body></html>
`;

export const UNAVAILABLE_PAGE = [
  'HTTP/1.1 503 Service Unavailable',
  'Cache-Control: no-cache',
  'Connection: close',
  'Content-Type: text/html; charset=utf-8',
  'Retry-After: 5',
  '',
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>App unavailable</title></head>',
  '<body><h1>This app has no healthy gear right now</h1><p>It may be starting, deploying or failing its health',
  "check. Try again in a few seconds; its owner can see why in the app's gears and operations.</p></body></html>",
  '',
].join('\r\n');
