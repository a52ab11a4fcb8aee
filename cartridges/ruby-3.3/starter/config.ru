# Gearshift's Ruby starter app (Rack on Puma): says what it is, reports and exercises the app's services.
require 'json'
require 'socket'
require 'uri'

def sql_connection
  url = ENV['DATABASE_URL']
  return nil if url.nil? || url.empty?
  u = URI.parse(url)
  if u.scheme.start_with?('postgres')
    require 'pg'
    ['postgresql', PG.connect(url, connect_timeout: 3)]
  else
    require 'mysql2'
    ['mysql', Mysql2::Client.new(host: u.host, port: u.port || 3306, username: URI.decode_www_form_component(u.user.to_s),
                                 password: URI.decode_www_form_component(u.password.to_s), database: u.path.delete_prefix('/'), connect_timeout: 3)]
  end
end

# Runs a query with `?` placeholders on either database (PostgreSQL numbers them: $1, $2, ...).
def sql(kind, conn, query, *args)
  if kind == 'postgresql'
    n = 0
    conn.exec_params(query.gsub('?') { "$#{n += 1}" }, args).to_a
  else
    conn.prepare(query).execute(*args).to_a
  end
end

def database_report
  kind, conn = sql_connection
  return { configured: false } if conn.nil?
  version = sql(kind, conn, 'select version() as v').first['v']
  conn.close
  { configured: true, reachable: true, kind: kind, version: version }
rescue StandardError => e
  { configured: true, reachable: false, error: e.message }
end

def selftest
  token = "#{Socket.gethostname}-#{Process.clock_gettime(Process::CLOCK_REALTIME, :nanosecond)}"
  result = {}
  begin
    kind, conn = sql_connection
    if conn
      sql(kind, conn, 'create table if not exists gearshift_selftest (v varchar(200))')
      sql(kind, conn, 'insert into gearshift_selftest (v) values (?)', token)
      row = sql(kind, conn, 'select v from gearshift_selftest where v = ?', token).first
      result[kind] = { wrote: token, read: row && row['v'] }
      conn.close
    end
  rescue StandardError => e
    result[:sql] = { error: e.message }
  end
  if ENV['REDIS_URL']
    begin
      require 'redis'
      redis = Redis.new(url: ENV['REDIS_URL'], connect_timeout: 3)
      redis.set('gearshift:selftest', token)
      result[:redis] = { wrote: token, read: redis.get('gearshift:selftest') }
      redis.close
    rescue StandardError => e
      result[:redis] = { error: e.message }
    end
  end
  result
end

json = ->(body) { [200, { 'content-type' => 'application/json' }, [JSON.pretty_generate(body) + "\n"]] }

run lambda { |env|
  case env['PATH_INFO']
  when '/health' then [200, { 'content-type' => 'text/plain' }, ["ok\n"]]
  when '/selftest' then json.call(selftest)
  else
    json.call(message: 'Welcome to your Gearshift app', app: ENV['GEARSHIFT_APP'], domain: ENV['GEARSHIFT_DOMAIN'],
              gear: ENV['GEARSHIFT_GEAR_ID'], host: Socket.gethostname, ruby: RUBY_VERSION, database: database_report)
  end
}
