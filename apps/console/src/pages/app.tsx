import { useEffect, useRef, useState } from 'preact/hooks';
import {
  ApiError,
  appPath,
  call,
  follow,
  get,
  post,
  raw,
  enc,
  type Alias,
  type App,
  type AppEnv,
  type AppMetrics,
  type Deployment,
  type AppOperation,
} from '../api';
import { LineChart, bytes } from '../charts';
import { tarGz } from '../tar';
import { Empty, ErrorBox, Field, Link, Loading, StateBadge, Table, age, background, messageOf, useData, when } from '../ui';

type Reload = () => Promise<void>;

/** Runs one change at a time for a section: its busy flag, its error, and a reload of the page after it. */
function useAction(after: Reload) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const go = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      await after();
    }
  };
  const run = (work: () => Promise<unknown>) => background(go(work), setError);
  return { busy, error, run, setError };
}

function Gears({ app }: { app: App }) {
  return (
    <section aria-labelledby="gears">
      <h2 id="gears">Gears</h2>
      <Table
        name="gears"
        rows={app.gears}
        empty="No gears."
        row={(g) => ({ key: g.id, data: { gear: g.id } })}
        columns={[
          { label: 'Gear', cell: (g) => <code>{g.id.slice(0, 8)}</code> },
          { label: 'Cartridge', cell: (g) => (g.process ? `${g.cartridge} (${g.process})` : g.cartridge) },
          { label: 'Node', cell: (g) => g.node },
          {
            label: 'State',
            cell: (g) => (
              <>
                <StateBadge state={g.state} />
                {g.message ? <div class="gear-message">{g.message}</div> : null}
              </>
            ),
          },
          { label: 'Release', cell: (g) => g.release ?? '—' },
          { label: 'Age', cell: (g) => age(g.createdAt) },
        ]}
      />
    </section>
  );
}

function Lifecycle({ app, reload }: { app: App; reload: Reload }) {
  const act = useAction(reload);
  return (
    <div class="actions" role="group" aria-label="Lifecycle">
      {(['start', 'stop', 'restart'] as const).map((action) => (
        <button key={action} type="button" disabled={act.busy} onClick={() => act.run(() => post(`${appPath(app.domain, app.name)}/actions`, { action }))}>
          {action[0].toUpperCase() + action.slice(1)}
        </button>
      ))}
      <ErrorBox error={act.error} />
    </div>
  );
}

function Scale({ app, reload }: { app: App; reload: Reload }) {
  const [replicas, setReplicas] = useState(String(app.scale));
  const [min, setMin] = useState(String(app.autoscale?.min ?? 1));
  const [max, setMax] = useState(String(app.autoscale?.max ?? Math.max(2, app.scale)));
  const fixed = useAction(reload);
  const auto = useAction(reload);
  const path = `${appPath(app.domain, app.name)}/scale`;
  return (
    <section aria-labelledby="scale">
      <h2 id="scale">Scale</h2>
      <p>
        {app.scale} web gear{app.scale === 1 ? '' : 's'}
        {app.autoscale ? `; autoscaling between ${app.autoscale.min} and ${app.autoscale.max} (${app.autoscale.targetConcurrency} requests each)` : ''}.
      </p>
      <div class="forms">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            fixed.run(() => call('PUT', path, { replicas: Number(replicas) }));
          }}
        >
          <ErrorBox error={fixed.error} fields={['/replicas']} />
          <Field label="Web gears" pointer="/replicas" error={fixed.error} id="replicas">
            <input id="replicas" type="number" min="0" value={replicas} onInput={(e) => setReplicas(e.currentTarget.value)} />
          </Field>
          <button type="submit" disabled={fixed.busy}>
            Scale
          </button>
        </form>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            auto.run(() => call('PUT', path, { min: Number(min), max: Number(max) }));
          }}
        >
          <ErrorBox error={auto.error} fields={['/min', '/max']} />
          <Field label="Autoscale from" pointer="/min" error={auto.error} id="autoscale-min">
            <input id="autoscale-min" type="number" min="0" value={min} onInput={(e) => setMin(e.currentTarget.value)} />
          </Field>
          <Field label="to" pointer="/max" error={auto.error} id="autoscale-max">
            <input id="autoscale-max" type="number" min="1" value={max} onInput={(e) => setMax(e.currentTarget.value)} />
          </Field>
          <button type="submit" disabled={auto.busy}>
            Autoscale
          </button>
        </form>
      </div>
    </section>
  );
}

function Env({ app }: { app: App }) {
  const path = `${appPath(app.domain, app.name)}/env`;
  const [revealed, setRevealed] = useState<Record<string, boolean>>({});
  const [values, setValues] = useState<AppEnv | null>(null);
  const { data, error } = useData(() => get<AppEnv>(path), [path]);
  const [revealError, setRevealError] = useState<unknown>(null);
  const shown = values ?? data;
  const rows = shown ? [...Object.entries(shown.env).map(([name, value]) => ({ name, value, from: 'app' })), ...(shown.published ?? [])] : [];
  const reveal = async (name: string) => {
    setRevealError(null);
    // Published credentials come masked: only an explicit reveal asks the broker for their values.
    if (!values && (data?.published ?? []).some((p) => p.name === name && p.secret)) setValues(await get<AppEnv>(`${path}?reveal=true`));
    setRevealed((r) => ({ ...r, [name]: !r[name] }));
  };
  return (
    <section aria-labelledby="env">
      <h2 id="env">Environment</h2>
      <ErrorBox error={revealError} />
      {!shown ? (
        <Loading error={error} />
      ) : (
        <Table
          name="env"
          rows={rows}
          empty="No variables."
          row={(row) => ({ key: row.name })}
          columns={[
            { label: 'Name', cell: (row) => <code>{row.name}</code> },
            {
              label: 'Value',
              cell: (row) => (
                <>
                  <code class="value">{revealed[row.name] ? row.value : '••••••••'}</code>{' '}
                  <button
                    type="button"
                    class="small"
                    aria-label={`${revealed[row.name] ? 'Hide' : 'Reveal'} ${row.name}`}
                    onClick={() => background(reveal(row.name), setRevealError)}
                  >
                    {revealed[row.name] ? 'Hide' : 'Reveal'}
                  </button>
                </>
              ),
            },
            { label: 'From', cell: (row) => row.from },
          ]}
        />
      )}
    </section>
  );
}

function Aliases({ app }: { app: App }) {
  const path = `${appPath(app.domain, app.name)}/aliases`;
  const { data, error, reload } = useData(() => get<Alias[]>(path), [path]);
  const [host, setHost] = useState('');
  const act = useAction(reload);
  return (
    <section aria-labelledby="aliases">
      <h2 id="aliases">Aliases</h2>
      {!data ? (
        <Loading error={error} />
      ) : data.length === 0 ? (
        <Empty>No aliases.</Empty>
      ) : (
        <ul class="plain">
          {data.map((a) => (
            <li key={a.host}>
              <code>{a.host}</code> {a.tls ? <span class="badge">TLS</span> : null}{' '}
              <button type="button" class="small" aria-label={`Remove alias ${a.host}`} onClick={() => act.run(() => call('DELETE', `${path}/${enc(a.host)}`))}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          act.run(async () => {
            await post(path, { host });
            setHost('');
          });
        }}
      >
        <ErrorBox error={act.error} fields={['/host']} />
        <Field label="Host name" pointer="/host" error={act.error} id="alias-host">
          <input id="alias-host" value={host} onInput={(e) => setHost(e.currentTarget.value)} placeholder="www.example.com" />
        </Field>
        <button type="submit" disabled={act.busy || !host}>
          Add alias
        </button>
      </form>
    </section>
  );
}

function Deployments({ app, reload: reloadApp }: { app: App; reload: Reload }) {
  const path = `${appPath(app.domain, app.name)}/deployments`;
  const { data, error, reload } = useData(() => get<Deployment[]>(path), [path], 3000);
  const both = async () => {
    await reload();
    await reloadApp();
  };
  const upload = useAction(both);
  const fromGit = useAction(both);
  const rollback = useAction(both);
  const [files, setFiles] = useState<File[]>([]);
  // A folder, not files: set as a property, since Preact would set the attribute's empty value as false.
  const folderInput = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (folderInput.current) folderInput.current.webkitdirectory = true;
  }, []);
  const [url, setUrl] = useState('');
  const [ref, setRef] = useState('');
  const [note, setNote] = useState('');
  return (
    <section aria-labelledby="deployments">
      <h2 id="deployments">Deployments</h2>
      <div class="forms">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            upload.run(async () => {
              const archive = await tarGz(files);
              setNote(`uploading ${files.length} file(s), ${(archive.size / 1024).toFixed(0)} KB`);
              try {
                await raw('POST', path, archive, 'application/gzip');
              } finally {
                setNote('');
              }
            });
          }}
        >
          <ErrorBox error={upload.error} />
          <div class="field">
            <label for="deploy-folder">Deploy a folder</label>
            <input id="deploy-folder" type="file" ref={folderInput} multiple onChange={(e) => setFiles([...(e.currentTarget.files ?? [])])} />
          </div>
          <button type="submit" disabled={upload.busy || files.length === 0}>
            Upload and deploy
          </button>
          {note && (
            <p class="muted" role="status">
              {note}
            </p>
          )}
        </form>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            fromGit.run(() => post(path, { git: { url, ...(ref ? { ref } : {}) } }));
          }}
        >
          <ErrorBox error={fromGit.error} fields={['/git/url', '/git/ref']} />
          <Field label="Git URL" pointer="/git/url" error={fromGit.error} id="git-url">
            <input id="git-url" type="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://…/app.git" />
          </Field>
          <Field label="Ref" pointer="/git/ref" error={fromGit.error} id="git-ref">
            <input id="git-ref" value={ref} onInput={(e) => setRef(e.currentTarget.value)} placeholder="main" />
          </Field>
          <button type="submit" disabled={fromGit.busy || !url}>
            Deploy from git
          </button>
        </form>
      </div>
      <ErrorBox error={rollback.error} />
      {!data ? (
        <Loading error={error} />
      ) : (
        <Table
          name="deployments"
          rows={data}
          empty="No deployments yet."
          row={(d) => ({ key: d.id, data: { release: d.number } })}
          columns={[
            {
              label: 'Release',
              cell: (d) => (
                <>
                  {d.number} {d.active ? <span class="badge state-running">active</span> : null}
                </>
              ),
            },
            {
              label: 'State',
              cell: (d) => (
                <>
                  <StateBadge state={d.state} />
                  {d.error ? <div class="gear-message">{d.error}</div> : null}
                </>
              ),
            },
            {
              label: 'Source',
              cell: (d) => (
                <>
                  {d.source.kind === 'git' ? `${d.source.url ?? 'git'} ${d.source.ref ?? ''}` : d.source.kind}, {d.source.files} file(s)
                </>
              ),
            },
            { label: 'Made', cell: (d) => when(d.createdAt) },
            {
              label: 'Actions',
              unlabelled: true,
              cell: (d) =>
                !d.active && d.state === 'inactive' ? (
                  <button type="button" class="small" disabled={rollback.busy} onClick={() => rollback.run(() => post(`${path}/${d.number}/activate`))}>
                    Roll back to {d.number}
                  </button>
                ) : null,
            },
          ]}
        />
      )}
    </section>
  );
}

/** Every gear's output over the broker's follow stream, newest at the bottom, kept to the last 1,000 lines. */
function Logs({ app }: { app: App }) {
  const [following, setFollowing] = useState(false);
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (!following) return;
    const stop = new AbortController();
    let partial = '';
    setError(null);
    follow(
      `${appPath(app.domain, app.name)}/logs?tail=100&follow=true`,
      (text) => {
        const parts = (partial + text).split('\n');
        partial = parts.pop() ?? '';
        if (parts.length) setLines((old) => [...old, ...parts].slice(-1000));
      },
      stop.signal,
    )
      .then(() => setFollowing(false))
      .catch((err: unknown) => {
        setError(err);
        setFollowing(false);
      });
    return () => stop.abort();
  }, [following, app.domain, app.name]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  return (
    <section aria-labelledby="logs">
      <h2 id="logs">Logs</h2>
      <div class="actions">
        <button
          type="button"
          onClick={() => {
            if (!following) setLines([]);
            setFollowing(!following);
          }}
        >
          {following ? 'Stop following' : 'Follow logs'}
        </button>
        {following && (
          <span class="muted" role="status">
            following…
          </span>
        )}
      </div>
      <ErrorBox error={error} />
      <pre class="logs" ref={box} tabIndex={0} aria-label="Log lines" aria-live="polite">
        {lines.join('\n')}
      </pre>
    </section>
  );
}

function Snapshots({ app, reload }: { app: App; reload: Reload }) {
  const path = `${appPath(app.domain, app.name)}/snapshots`;
  const take = useAction(reload);
  const restore = useAction(reload);
  const [file, setFile] = useState<File | null>(null);
  return (
    <section aria-labelledby="snapshots">
      <h2 id="snapshots">Snapshots</h2>
      <p class="muted">A snapshot is a .tar.gz of the app's data, downloaded to this computer; restoring one puts that data back.</p>
      <div class="forms">
        <div>
          <button
            type="button"
            disabled={take.busy}
            onClick={() =>
              take.run(async () => {
                const res = await raw('POST', path);
                const name = /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${app.name}-${app.domain}.tar.gz`;
                const link = document.createElement('a');
                link.href = URL.createObjectURL(await res.blob());
                link.download = name;
                link.click();
                setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
              })
            }
          >
            {take.busy ? 'Taking a snapshot…' : 'Take a snapshot'}
          </button>
          <ErrorBox error={take.error} />
        </div>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (file) restore.run(() => raw('POST', `${path}/restore`, file, 'application/gzip'));
          }}
        >
          <ErrorBox error={restore.error} />
          <div class="field">
            <label for="snapshot-file">Restore a snapshot</label>
            <input id="snapshot-file" type="file" accept=".tar.gz,.tgz,application/gzip" onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
          </div>
          <button type="submit" disabled={restore.busy || !file}>
            Restore
          </button>
        </form>
      </div>
    </section>
  );
}

function Operations({ app }: { app: App }) {
  const path = `${appPath(app.domain, app.name)}/operations`;
  const { data, error } = useData(() => get<AppOperation[]>(path), [path], 3000);
  return (
    <section aria-labelledby="operations">
      <h2 id="operations">Operations</h2>
      {!data ? (
        <Loading error={error} />
      ) : data.length === 0 ? (
        <Empty>No operations yet.</Empty>
      ) : (
        <ol class="timeline">
          {data.map((op) => (
            <li key={op.id} class={`op op-${op.state}`}>
              <details>
                <summary>
                  <StateBadge state={op.state} /> <strong>{op.kind}</strong> <span class="muted">{when(op.createdAt)}</span>
                  {op.by === 'platform' ? <span class="muted"> (by the platform)</span> : null}
                </summary>
                <ol class="steps">
                  {op.steps.map((s, i) => (
                    <li key={i}>
                      <time dateTime={s.at}>{new Date(s.at).toLocaleTimeString()}</time> {s.text}
                    </li>
                  ))}
                </ol>
                {op.error ? <p class="error">{op.error}</p> : null}
              </details>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

function Charts({ app }: { app: App }) {
  const path = `${appPath(app.domain, app.name)}/metrics?minutes=60`;
  // No metrics yet (a broker without them answers 404): the charts say so rather than fail.
  const { data } = useData(
    () =>
      get<AppMetrics>(path).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }),
    [path],
    15_000,
  );
  const series = data?.series ?? {};
  return (
    <section aria-labelledby="charts">
      <h2 id="charts">Last hour</h2>
      <div class="charts">
        <LineChart title="Requests per second" series={series.requestsPerSecond} unit="req/s" />
        <LineChart title="Response time" series={series.responseTimeMs} unit="ms" />
        <LineChart title="Error rate" series={series.errorRate} format={(v) => `${(v * 100).toFixed(1)}%`} />
      </div>
      {(data?.gears ?? []).map((g) => (
        <div key={g.name}>
          <h3>
            Gear {g.name} <span class="muted">on {g.node}</span>
          </h3>
          <div class="charts">
            <LineChart title="CPU" series={g.cpuPercent} unit="%" />
            <LineChart title="Memory" series={g.memoryBytes} format={bytes} />
          </div>
        </div>
      ))}
    </section>
  );
}

export function AppPage({ domain, app: name }: { domain: string; app: string }) {
  const { data: app, error, reload } = useData(() => get<App>(appPath(domain, name)), [domain, name], 2000);
  if (!app) {
    return (
      <section>
        <h1>{name}</h1>
        <Loading error={error} />
      </section>
    );
  }
  return (
    <section class="app">
      <p class="crumbs">
        <Link href="/">Apps</Link> / {domain}
      </p>
      <div class="heading">
        <h1>{app.name}</h1>
        <StateBadge state={app.status} />
      </div>
      <p>
        <a href={app.url} target="_blank" rel="noopener noreferrer" class="app-url">
          {app.url}
        </a>
        <br />
        <span class="muted">
          {app.cartridges.join(', ')} · size {app.size} · release {app.release ?? '—'} · made {when(app.createdAt)}
        </span>
      </p>
      {error ? <p class="error">{messageOf(error)}</p> : null}
      <Lifecycle app={app} reload={reload} />
      <Gears app={app} />
      <Scale app={app} reload={reload} />
      <Deployments app={app} reload={reload} />
      <Logs app={app} />
      <Charts app={app} />
      <Env app={app} />
      <Aliases app={app} />
      <Snapshots app={app} reload={reload} />
      <Operations app={app} />
    </section>
  );
}
