import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { post, session, whenUnauthorized, ApiError } from './api';
import { Field, ErrorBox, Link, background, navigate } from './ui';
import { AppsPage } from './pages/apps';
import { AppPage } from './pages/app';
import { CreatePage } from './pages/create';
import { NodesPage } from './pages/nodes';
import './style.css';

function Login({ onIn }: { onIn: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <h1>Gearshift</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          background(
            (async () => {
              setBusy(true);
              setError(null);
              try {
                const res = await post<{ token: string; username: string }>('/auth/login', { username, password });
                session.save(res.token, res.username);
                onIn();
              } catch (err) {
                setError(err);
              } finally {
                setBusy(false);
              }
            })(),
          );
        }}
      >
        <ErrorBox error={error} fields={['/username', '/password']} />
        <Field label="User name" pointer="/username" error={error} id="username">
          <input
            id="username"
            name="username"
            autocomplete="username"
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            required
            autofocus
          />
        </Field>
        <Field label="Password" pointer="/password" error={error} id="password">
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}

function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return path;
}

function Page({ path }: { path: string }) {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts[0] === 'apps' && parts.length === 1)) return <AppsPage />;
  if (parts[0] === 'apps' && parts.length === 3) return <AppPage domain={parts[1]} app={parts[2]} key={`${parts[1]}/${parts[2]}`} />;
  if (parts[0] === 'new') return <CreatePage />;
  if (parts[0] === 'nodes') return <NodesPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        The console has no page at <code>{path}</code>. <Link href="/">Back to the apps</Link>.
      </p>
    </section>
  );
}

function Console() {
  const [signedIn, setSignedIn] = useState(Boolean(session.token));
  const path = usePath();
  useEffect(() => whenUnauthorized(() => setSignedIn(false)), []);
  useEffect(() => {
    const main = document.querySelector('main h1');
    document.title = main?.textContent ? `${main.textContent} · Gearshift` : 'Gearshift console';
  });
  if (!signedIn || path === '/login') {
    return (
      <Login
        onIn={() => {
          setSignedIn(true);
          if (location.pathname === '/login') navigate('/');
        }}
      />
    );
  }
  const nav = (href: string, label: string, active: boolean) => (
    <li>
      <Link href={href} class={active ? 'active' : undefined}>
        {label}
      </Link>
    </li>
  );
  return (
    <>
      <a class="skip" href="#content">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand">
          Gearshift
        </Link>
        <nav aria-label="Main">
          <ul>
            {nav('/', 'Apps', path === '/' || path.startsWith('/apps'))}
            {nav('/new', 'Create app', path === '/new')}
            {nav('/nodes', 'Nodes', path === '/nodes')}
          </ul>
        </nav>
        <span class="user">
          {session.username}{' '}
          <button
            type="button"
            class="link"
            onClick={() => {
              background(
                (async () => {
                  await post('/auth/logout').catch((err: unknown) => {
                    if (!(err instanceof ApiError)) throw err;
                  });
                  session.clear();
                  setSignedIn(false);
                })(),
              );
            }}
          >
            Log out
          </button>
        </span>
      </header>
      <main id="content" tabIndex={-1}>
        <Page path={path} />
      </main>
    </>
  );
}

render(<Console />, document.getElementById('root')!);
