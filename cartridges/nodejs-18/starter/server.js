// Gearshift's Node.js starter app: answers on $PORT and says whether it reached the app's database.
'use strict';
const http = require('node:http');
const os = require('node:os');

async function databaseReport() {
  const url = process.env.DATABASE_URL;
  if (!url) return { configured: false };
  let pg;
  try {
    pg = require('pg');
  } catch (err) {
    return { configured: true, reachable: false, error: 'the pg module is not installed' };
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    const { rows } = await client.query('select version() as version, current_database() as database');
    return { configured: true, reachable: true, database: rows[0].database, version: rows[0].version };
  } catch (err) {
    return { configured: true, reachable: false, error: err.message };
  } finally {
    client.end().catch(() => {});
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/slow') {
    // Answers after ?ms= milliseconds (at most 10 s): a way to see concurrency, scaling and timeouts at work.
    const ms = Math.min(10000, Math.max(0, Number(url.searchParams.get('ms')) || 0));
    await new Promise((r) => setTimeout(r, ms));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ gear: process.env.GEARSHIFT_GEAR_ID, waitedMs: ms }) + '\n');
    return;
  }
  if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const body = {
    message: 'Welcome to your Gearshift app',
    app: process.env.GEARSHIFT_APP,
    domain: process.env.GEARSHIFT_DOMAIN,
    gear: process.env.GEARSHIFT_GEAR_ID,
    host: os.hostname(),
    node: process.version,
    database: await databaseReport(),
  };
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, null, 2) + '\n');
});

server.listen(Number(process.env.PORT || 8080), '0.0.0.0', () => {
  console.log(`starter app listening on ${process.env.PORT || 8080}`);
});
process.on('SIGTERM', () => {
  // Finish the requests in flight, refuse new ones, and drop idle keep-alive connections so the exit is prompt.
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
