import { get, enc, type App, type Domain } from '../api';
import { Link, Loading, StateBadge, Table, age, useData } from '../ui';

export interface DomainApps {
  domain: Domain;
  apps: App[];
}

/** Every domain the user sees, with its apps. */
export async function loadDomains(): Promise<DomainApps[]> {
  const domains = await get<Domain[]>('/domains');
  return Promise.all(domains.map(async (domain) => ({ domain, apps: await get<App[]>(`/domains/${enc(domain.name)}/apps`) })));
}

/** Gears grouped by the node they run on. */
export function GearsByNode({ app }: { app: App }) {
  if (app.gears.length === 0) return <span class="muted">no gears</span>;
  const nodes = [...new Set(app.gears.map((g) => g.node))].sort();
  return (
    <ul class="plain">
      {nodes.map((node) => (
        <li key={node}>
          <strong>{node}</strong>:{' '}
          {app.gears
            .filter((g) => g.node === node)
            .map((g) => (
              <span class="gear" key={g.id} title={`${g.cartridge} gear ${g.id}${g.message ? `: ${g.message}` : ''}`}>
                {g.process ?? g.cartridge} <StateBadge state={g.state} /> <span class="muted">{age(g.createdAt)}</span>
                {g.message ? <span class="gear-message"> {g.message}</span> : null}
              </span>
            ))}
        </li>
      ))}
    </ul>
  );
}

export function AppsPage() {
  const { data, error } = useData(loadDomains, [], 3000);
  return (
    <section>
      <div class="heading">
        <h1>Apps</h1>
        <Link href="/new" class="button">
          Create app
        </Link>
      </div>
      {!data ? (
        <Loading error={error} />
      ) : data.length === 0 ? (
        <p>
          No domains yet. <Link href="/new">Create an app</Link> to make one.
        </p>
      ) : (
        data.map(({ domain, apps }) => (
          <section key={domain.name} class="domain" aria-labelledby={`domain-${domain.name}`}>
            <h2 id={`domain-${domain.name}`}>
              {domain.name} {domain.team && <small class="muted">team {domain.team}</small>}
            </h2>
            <Table
              name="apps"
              rows={apps}
              empty="No apps in this domain."
              row={(app) => ({ key: app.name, data: { app: app.name } })}
              columns={[
                { label: 'App', cell: (app) => <Link href={`/apps/${enc(domain.name)}/${enc(app.name)}`}>{app.name}</Link> },
                {
                  label: 'State',
                  cell: (app) => (
                    <>
                      <StateBadge state={app.status} />
                      {app.health?.path ? (
                        <>
                          {' '}
                          <span class="muted">checks {app.health.path}</span>
                        </>
                      ) : null}
                    </>
                  ),
                },
                {
                  label: 'URL',
                  cell: (app) => (
                    <a href={app.url} target="_blank" rel="noopener noreferrer">
                      {app.url}
                    </a>
                  ),
                },
                { label: 'Cartridges', cell: (app) => app.cartridges.join(', ') || '—' },
                { label: 'Gears', heading: 'Gears per node (state, health, age)', cell: (app) => <GearsByNode app={app} /> },
              ]}
            />
          </section>
        ))
      )}
    </section>
  );
}
