// Gearshift's Node.js starter app: answers on $PORT and says whether it reached the app's database.
'use strict';
const http = require('node:http');
const os = require('node:os');

async function databaseReport() {
  const url = process.env.DATABASE_URL;
  if (!url) return { configured: false };
  if (url.startsWith('mysql')) {
    try {
      const conn = require('mysql').createConnection(url);
      const rows = await new Promise((resolve, reject) => conn.query('select version() as version, database() as db', (err, r) => (err ? reject(err) : resolve(r))));
      conn.end();
      return { configured: true, reachable: true, database: rows[0].db, version: rows[0].version };
    } catch (err) {
      return { configured: true, reachable: false, error: err.message };
    }
  }
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

/** Writes a value to every service the app has and reads it back. */
async function selftest() {
  const token = `${os.hostname()}-${process.hrtime.bigint()}`;
  const result = {};
  const url = process.env.DATABASE_URL;
  try {
    if (url && url.startsWith('postgres')) {
      const pg = require('pg');
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
      await client.connect();
      await client.query('create table if not exists gearshift_selftest (v varchar(200))');
      await client.query('insert into gearshift_selftest (v) values ($1)', [token]);
      const { rows } = await client.query('select v from gearshift_selftest where v = $1', [token]);
      result.postgresql = { wrote: token, read: rows[0] && rows[0].v };
      await client.end();
    } else if (url && url.startsWith('mysql')) {
      const mysql = require('mysql');
      const conn = mysql.createConnection(url);
      const q = (sql, args) => new Promise((resolve, reject) => conn.query(sql, args, (err, rows) => (err ? reject(err) : resolve(rows))));
      await q('create table if not exists gearshift_selftest (v varchar(200))');
      await q('insert into gearshift_selftest (v) values (?)', [token]);
      const rows = await q('select v from gearshift_selftest where v = ?', [token]);
      result.mysql = { wrote: token, read: rows[0] && rows[0].v };
      conn.end();
    }
  } catch (err) {
    result.sql = { error: err.message };
  }
  if (process.env.REDIS_URL) {
    try {
      const { createClient } = require('redis');
      const client = createClient({ url: process.env.REDIS_URL, socket: { connectTimeout: 3000, reconnectStrategy: false } });
      await client.connect();
      await client.set('gearshift:selftest', token);
      result.redis = { wrote: token, read: await client.get('gearshift:selftest') };
      await client.quit();
    } catch (err) {
      result.redis = { error: err.message };
    }
  }
  return result;
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
  if (url.pathname === '/selftest') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(await selftest(), null, 2) + '\n');
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

// A WebSocket echo at /ws, so that a new app can show that its URL carries WebSockets too.
server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (!req.url.startsWith('/ws') || !key) {
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = require('node:crypto').createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 2) {
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        socket.destroy();
        return;
      }
      const masked = (buf[1] & 0x80) !== 0;
      if (buf.length < offset + (masked ? 4 : 0) + len) return;
      const mask = masked ? buf.subarray(offset, offset + 4) : null;
      offset += masked ? 4 : 0;
      const payload = Buffer.from(buf.subarray(offset, offset + len));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      buf = buf.subarray(offset + len);
      if (opcode === 0x8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      if (opcode === 0x1 || opcode === 0x2) {
        const header = payload.length < 126 ? Buffer.from([0x80 | opcode, payload.length]) : Buffer.from([0x80 | opcode, 126, payload.length >> 8, payload.length & 0xff]);
        socket.write(Buffer.concat([header, payload]));
      }
    }
  });
  socket.on('error', () => socket.destroy());
});

server.listen(Number(process.env.PORT || 8080), '0.0.0.0', () => {
  console.log(`starter app listening on ${process.env.PORT || 8080}`);
});
process.on('SIGTERM', () => {
  // Finish the requests in flight, refuse new ones, and drop idle keep-alive connections so the exit is prompt.
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
