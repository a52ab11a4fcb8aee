import { useState } from 'preact/hooks';
import { ApiError, enc, get, post, type App, type Cartridge, type Domain } from '../api';
import { ErrorBox, Field, Loading, StateBadge, background, navigate, useData } from '../ui';

const NEW_DOMAIN = '';

function CartridgeCard({ c, kind, checked, onChange }: { c: Cartridge; kind: 'radio' | 'checkbox'; checked: boolean; onChange: (on: boolean) => void }) {
  const id = `cartridge-${c.name}`;
  return (
    <label class={`card${checked ? ' chosen' : ''}${c.status === 'deprecated' ? ' deprecated' : ''}`} for={id} data-cartridge={c.name}>
      <input id={id} type={kind} name={kind === 'radio' ? 'web-cartridge' : undefined} checked={checked} onChange={(e) => onChange(e.currentTarget.checked)} />
      <span class="card-title">{c.displayName}</span>
      <span class="card-meta">
        <code>{c.name}</code> · version {c.version}
      </span>
      <span class="card-meta">
        <StateBadge state={c.status ?? 'current'} />
        {c.endOfLife ? <span class="muted"> end of life {c.endOfLife}</span> : null}
      </span>
      {c.manifest.description ? <span class="card-text">{c.manifest.description}</span> : null}
    </label>
  );
}

export function CreatePage() {
  const catalogue = useData(() => get<Cartridge[]>('/cartridges'), []);
  const domains = useData(() => get<Domain[]>('/domains'), []);
  const [domain, setDomain] = useState<string | null>(null);
  const [newDomain, setNewDomain] = useState('');
  const [name, setName] = useState('');
  const [web, setWeb] = useState<string | null>(null);
  const [services, setServices] = useState<string[]>([]);
  const [scale, setScale] = useState('1');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [domainError, setDomainError] = useState<unknown>(null);

  if (!catalogue.data || !domains.data) return <Loading error={catalogue.error ?? domains.error} />;
  const chosenDomain = domain ?? domains.data[0]?.name ?? NEW_DOMAIN;
  const webCartridges = catalogue.data.filter((c) => c.categories.includes('web'));
  const serviceCartridges = catalogue.data.filter((c) => !c.categories.includes('web'));

  return (
    <section>
      <h1>Create an app</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          background(
            (async () => {
              setBusy(true);
              setError(null);
              setDomainError(null);
              try {
                let target = chosenDomain;
                if (target === NEW_DOMAIN) {
                  try {
                    target = (await post<Domain>('/domains', { name: newDomain })).name;
                    // The new domain is chosen from now on, even if the app is refused and tried again.
                    setDomain(target);
                    await domains.reload();
                  } catch (err) {
                    setDomainError(err);
                    return;
                  }
                }
                const cartridges = [...(web ? [web] : []), ...services];
                const app = await post<App>(`/domains/${enc(target)}/apps`, { name, cartridges, scale: Number(scale) });
                navigate(`/apps/${enc(target)}/${enc(app.name)}`);
              } catch (err) {
                setError(err);
              } finally {
                setBusy(false);
              }
            })(),
            setError,
          );
        }}
      >
        <fieldset>
          <legend>Where</legend>
          <div class="row">
            <div class="field">
              <label for="domain">Domain</label>
              <select id="domain" value={chosenDomain} onChange={(e) => setDomain(e.currentTarget.value)}>
                {domains.data.map((d) => (
                  <option key={d.name} value={d.name}>
                    {d.name}
                  </option>
                ))}
                <option value={NEW_DOMAIN}>a new domain…</option>
              </select>
            </div>
            {chosenDomain === NEW_DOMAIN && (
              <Field label="New domain name" pointer="/name" error={domainError} id="new-domain">
                <input id="new-domain" value={newDomain} onInput={(e) => setNewDomain(e.currentTarget.value)} required pattern="[a-z][a-z0-9]{0,31}" />
              </Field>
            )}
            <Field label="App name" pointer="/name" error={error} id="app-name">
              <input id="app-name" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
            </Field>
            <Field label="Web gears" pointer="/scale" error={error} id="app-scale">
              <input id="app-scale" type="number" min="1" value={scale} onInput={(e) => setScale(e.currentTarget.value)} />
            </Field>
          </div>
          {domainError instanceof ApiError && !domainError.about('/name') ? <ErrorBox error={domainError} /> : null}
        </fieldset>
        <fieldset>
          <legend>Web cartridge</legend>
          {error instanceof ApiError && error.about('/cartridges') ? (
            <p class="field-error" role="alert">
              {error.about('/cartridges')}
            </p>
          ) : null}
          <div class="cards">
            {webCartridges.map((c) => (
              <CartridgeCard key={c.name} c={c} kind="radio" checked={web === c.name} onChange={(on) => on && setWeb(c.name)} />
            ))}
          </div>
        </fieldset>
        <fieldset>
          <legend>Services (optional)</legend>
          <div class="cards">
            {serviceCartridges.map((c) => (
              <CartridgeCard
                key={c.name}
                c={c}
                kind="checkbox"
                checked={services.includes(c.name)}
                onChange={(on) => setServices((s) => (on ? [...s, c.name] : s.filter((x) => x !== c.name)))}
              />
            ))}
          </div>
        </fieldset>
        <ErrorBox error={error} fields={['/name', '/scale', '/cartridges']} />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create app'}
        </button>
      </form>
    </section>
  );
}
