// Gearshift's Java starter app: says what it is, reports and exercises the services its app publishes.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.util.*;
import java.util.concurrent.Executors;

public class Starter {
    static String env(String name) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? null : v;
    }

    static String json(Object v) {
        if (v == null) return "null";
        if (v instanceof Boolean || v instanceof Number) return v.toString();
        if (v instanceof Map<?, ?> m) {
            StringJoiner j = new StringJoiner(", ", "{", "}");
            m.forEach((k, x) -> j.add(json(k.toString()) + ": " + json(x)));
            return j.toString();
        }
        String s = v.toString().replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
        return "\"" + s + "\"";
    }

    /** A JDBC connection from DATABASE_URL (postgresql:// or mysql://), and its kind. */
    static Map.Entry<String, Connection> sql() throws Exception {
        String url = env("DATABASE_URL");
        if (url == null) return null;
        URI u = new URI(url);
        String[] cred = u.getRawUserInfo().split(":", 2);
        Properties props = new Properties();
        props.setProperty("user", URLDecoder.decode(cred[0], StandardCharsets.UTF_8));
        props.setProperty("password", URLDecoder.decode(cred.length > 1 ? cred[1] : "", StandardCharsets.UTF_8));
        DriverManager.setLoginTimeout(3);
        boolean pg = u.getScheme().startsWith("postgres");
        String jdbc = (pg ? "jdbc:postgresql://" : "jdbc:mariadb://") + u.getHost() + ":" + u.getPort() + u.getPath();
        return Map.entry(pg ? "postgresql" : "mysql", DriverManager.getConnection(jdbc, props));
    }

    static Map<String, Object> databaseReport() {
        Map<String, Object> out = new LinkedHashMap<>();
        try {
            var c = sql();
            out.put("configured", c != null);
            if (c == null) return out;
            try (Connection conn = c.getValue(); ResultSet rs = conn.createStatement().executeQuery("select version()")) {
                rs.next();
                out.put("reachable", true);
                out.put("kind", c.getKey());
                out.put("version", rs.getString(1));
            }
        } catch (Exception e) {
            out.put("configured", true);
            out.put("reachable", false);
            out.put("error", e.getMessage());
        }
        return out;
    }

    /** One Redis command over RESP, enough for AUTH, SET and GET. */
    static String redis(DataOutputStream out, BufferedReader in, String... args) throws IOException {
        StringBuilder b = new StringBuilder("*" + args.length + "\r\n");
        for (String a : args) b.append("$").append(a.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(a).append("\r\n");
        out.write(b.toString().getBytes(StandardCharsets.UTF_8));
        out.flush();
        String line = in.readLine();
        if (line.startsWith("-")) throw new IOException(line.substring(1));
        if (line.startsWith("$")) return Integer.parseInt(line.substring(1)) < 0 ? null : in.readLine();
        return line.substring(1);
    }

    static Map<String, Object> selftest() {
        String token = System.getenv("HOSTNAME") + "-" + System.nanoTime();
        Map<String, Object> result = new LinkedHashMap<>();
        try {
            var c = sql();
            if (c != null) {
                try (Connection conn = c.getValue()) {
                    conn.createStatement().execute("create table if not exists gearshift_selftest (v varchar(200))");
                    try (PreparedStatement ins = conn.prepareStatement("insert into gearshift_selftest (v) values (?)")) {
                        ins.setString(1, token);
                        ins.executeUpdate();
                    }
                    try (PreparedStatement q = conn.prepareStatement("select v from gearshift_selftest where v = ?")) {
                        q.setString(1, token);
                        ResultSet rs = q.executeQuery();
                        result.put(c.getKey(), Map.of("wrote", token, "read", rs.next() ? rs.getString(1) : "none"));
                    }
                }
            }
        } catch (Exception e) {
            result.put("sql", Map.of("error", String.valueOf(e.getMessage())));
        }
        String redisUrl = env("REDIS_URL");
        if (redisUrl != null) {
            try {
                URI u = new URI(redisUrl);
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(u.getHost(), u.getPort()), 3000);
                    s.setSoTimeout(3000);
                    var out = new DataOutputStream(s.getOutputStream());
                    var in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                    String info = u.getRawUserInfo();
                    if (info != null && info.contains(":")) redis(out, in, "AUTH", URLDecoder.decode(info.substring(info.indexOf(':') + 1), StandardCharsets.UTF_8));
                    redis(out, in, "SET", "gearshift:selftest", token);
                    result.put("redis", Map.of("wrote", token, "read", String.valueOf(redis(out, in, "GET", "gearshift:selftest"))));
                }
            } catch (Exception e) {
                result.put("redis", Map.of("error", String.valueOf(e.getMessage())));
            }
        }
        return result;
    }

    static void send(HttpExchange ex, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("content-type", type);
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(bytes);
        }
    }

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(Optional.ofNullable(env("PORT")).orElse("8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress("0.0.0.0", port), 128);
        server.setExecutor(Executors.newFixedThreadPool(8));
        server.createContext("/health", ex -> send(ex, 200, "text/plain", "ok\n"));
        server.createContext("/selftest", ex -> send(ex, 200, "application/json", json(selftest()) + "\n"));
        server.createContext("/", ex -> {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("message", "Welcome to your Gearshift app");
            body.put("app", env("GEARSHIFT_APP"));
            body.put("domain", env("GEARSHIFT_DOMAIN"));
            body.put("gear", env("GEARSHIFT_GEAR_ID"));
            body.put("java", System.getProperty("java.version"));
            body.put("database", databaseReport());
            send(ex, 200, "application/json", json(body) + "\n");
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(2)));
        server.start();
        System.out.println("starter app listening on " + port);
    }
}
