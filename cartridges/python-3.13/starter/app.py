"""Gearshift's Python starter app: answers on $PORT, reports and exercises the services its app publishes."""
import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse


def connect_sql():
    """A DB-API connection from DATABASE_URL (postgresql:// or mysql://), or None."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return None, None
    u = urlparse(url)
    if u.scheme.startswith("postgres"):
        import psycopg2
        return "postgresql", psycopg2.connect(url, connect_timeout=3)
    if u.scheme.startswith("mysql"):
        import pymysql
        return "mysql", pymysql.connect(host=u.hostname, port=u.port or 3306, user=unquote(u.username or ""),
                                        password=unquote(u.password or ""), database=u.path.lstrip("/"), connect_timeout=3)
    raise ValueError(f"unsupported database URL scheme {u.scheme}")


def report():
    out = {"configured": False}
    try:
        kind, conn = connect_sql()
        if conn is None:
            return out
        try:
            cur = conn.cursor()
            cur.execute("select version()")
            out = {"configured": True, "reachable": True, "kind": kind, "version": cur.fetchone()[0]}
        finally:
            conn.close()
    except Exception as err:  # the report says what went wrong instead of failing the page
        out = {"configured": True, "reachable": False, "error": str(err)}
    return out


def selftest():
    """Writes a value to every service the app has and reads it back."""
    token = f"{socket.gethostname()}-{time.time_ns()}"
    result = {}
    try:
        kind, conn = connect_sql()
        if conn is not None:
            cur = conn.cursor()
            cur.execute("create table if not exists gearshift_selftest (v varchar(200))")
            cur.execute("insert into gearshift_selftest (v) values (%s)", (token,))
            conn.commit()
            cur.execute("select v from gearshift_selftest where v = %s", (token,))
            row = cur.fetchone()
            result[kind] = {"wrote": token, "read": row[0] if row else None}
            conn.close()
    except Exception as err:
        result["sql"] = {"error": str(err)}
    if os.environ.get("REDIS_URL"):
        try:
            import redis
            r = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=3)
            r.set("gearshift:selftest", token)
            result["redis"] = {"wrote": token, "read": r.get("gearshift:selftest").decode()}
        except Exception as err:
            result["redis"] = {"error": str(err)}
    return result


class Handler(BaseHTTPRequestHandler):
    def send_json(self, status, body):
        data = (json.dumps(body, indent=2) + "\n").encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/health":
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", "3")
            self.end_headers()
            self.wfile.write(b"ok\n")
        elif path == "/selftest":
            self.send_json(200, selftest())
        else:
            self.send_json(200, {
                "message": "Welcome to your Gearshift app",
                "app": os.environ.get("GEARSHIFT_APP"),
                "domain": os.environ.get("GEARSHIFT_DOMAIN"),
                "gear": os.environ.get("GEARSHIFT_GEAR_ID"),
                "host": socket.gethostname(),
                "python": sys.version.split()[0],
                "database": report(),
            })

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.address_string(), fmt % args))


if __name__ == "__main__":
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler)
    signal.signal(signal.SIGTERM, lambda *_: (server.shutdown(), sys.exit(0)))
    print(f"starter app listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
