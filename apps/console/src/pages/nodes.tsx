import { useState } from 'preact/hooks';
import { enc, get, post, type NodeInfo } from '../api';
import { Empty, ErrorBox, Link, Loading, StateBadge, age, background, useData } from '../ui';
import { loadDomains } from './apps';

function Meter({ label, used, total, unit }: { label: string; used: number; total: number; unit?: string }) {
  return (
    <div class="meter">
      <span>
        {label}: {used} / {total}
        {unit ? ` ${unit}` : ''}
      </span>
      <meter min={0} max={Math.max(total, 1)} value={used} high={total * 0.8} aria-label={label} />
    </div>
  );
}

export function NodesPage() {
  const nodes = useData(() => get<NodeInfo[]>('/nodes'), [], 3000);
  // The gears on each node, from the apps this user sees.
  const apps = useData(loadDomains, [], 5000);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  if (!nodes.data) {
    return (
      <section>
        <h1>Nodes</h1>
        <Loading error={nodes.error} />
      </section>
    );
  }
  const gears = (apps.data ?? []).flatMap(({ domain, apps: list }) =>
    list.flatMap((app) => app.gears.map((g) => ({ ...g, app: app.name, domain: domain.name }))),
  );
  return (
    <section>
      <h1>Nodes</h1>
      <ErrorBox error={error} />
      {nodes.data.length === 0 ? (
        <Empty>No nodes have joined.</Empty>
      ) : (
        <div class="node-list">
          {nodes.data.map((n) => {
            const here = gears.filter((g) => g.node === n.name);
            return (
              <article class="node" key={n.id} data-node={n.name} aria-labelledby={`node-${n.id}`}>
                <div class="heading">
                  <h2 id={`node-${n.id}`}>{n.name}</h2>
                  <StateBadge state={n.state} />
                  {n.ready ? null : <span class="badge state-failed">not ready</span>}
                </div>
                <p class="muted">
                  {n.address ?? 'no address'} · heartbeat {age(n.lastHeartbeat)} ago
                </p>
                <Meter label="Memory" used={n.allocated.memoryMb} total={n.capacity.memoryMb} unit="MB" />
                <Meter label="Gears" used={n.allocated.gears} total={n.capacity.maxGears} />
                {here.length > 0 && (
                  <details>
                    <summary>
                      {here.length} gear{here.length === 1 ? '' : 's'} of yours
                    </summary>
                    <ul class="plain">
                      {here.map((g) => (
                        <li key={g.id}>
                          <Link href={`/apps/${enc(g.domain)}/${enc(g.app)}`}>
                            {g.app}.{g.domain}
                          </Link>{' '}
                          {g.process ?? g.cartridge} <StateBadge state={g.state} />
                        </li>
                      ))}
                    </ul>
                  </details>
                )}
                <button
                  type="button"
                  disabled={busy === n.id || n.state === 'draining'}
                  onClick={() => {
                    background(
                      (async () => {
                        if (!confirm(`Drain ${n.name}? Its gears move to other nodes and it takes no new ones.`)) return;
                        setBusy(n.id);
                        setError(null);
                        try {
                          await post(`/nodes/${enc(n.id)}/drain`);
                        } catch (err) {
                          setError(err);
                        } finally {
                          setBusy(null);
                          await nodes.reload();
                        }
                      })(),
                      setError,
                    );
                  }}
                >
                  Drain
                </button>
              </article>
            );
          })}
        </div>
      )}
    </section>
  );
}
