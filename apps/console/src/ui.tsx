import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

/**
 * Work started from an event handler, which cannot wait for it: its failure is shown by `onError` (each caller keeps
 * its errors in its own state; what reaches the default is a fault of the console itself).
 */
export function background(work: Promise<unknown>, onError: (err: unknown) => void = (err) => reportError(err)): void {
  work.catch(onError);
}

/** Client-side navigation: the broker answers every console path with the same page. */
export function navigate(path: string): void {
  if (location.pathname + location.search === path) return;
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

export function Link({ href, children, class: cls }: { href: string; children: ComponentChildren; class?: string }) {
  return (
    <a
      href={href}
      class={cls}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}

/** Loads `load` now and every `everyMs` (when given); `reload` loads again at once. */
export function useData<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const loadRef = useRef(load);
  loadRef.current = load;
  const reload = useCallback(async () => {
    try {
      setData(await loadRef.current());
      setError(undefined);
    } catch (err) {
      setError(err);
    }
  }, []);
  useEffect(() => {
    setData(undefined);
    setError(undefined);
    background(reload());
    if (!everyMs) return;
    const timer = setInterval(() => background(reload()), everyMs);
    return () => clearInterval(timer);
  }, deps);
  return { data, error, reload };
}

export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** An error as the API worded it; the messages about fields are shown beside those fields instead. */
export function ErrorBox({ error, fields = [] }: { error: unknown; fields?: string[] }) {
  if (!error) return null;
  const others = error instanceof ApiError ? error.details.filter((d) => !fields.some((f) => d.pointer === f || d.pointer.startsWith(`${f}/`))) : [];
  return (
    <div class="error" role="alert">
      {messageOf(error)}
      {others.length > 0 && (
        <ul>
          {others.map((d) => (
            <li key={d.pointer + d.message}>
              {d.pointer && d.pointer !== '/' ? <code>{d.pointer}</code> : null} {d.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** A labelled input with the API's message for its JSON pointer underneath. */
export function Field({ label, pointer, error, children, id }: { label: string; pointer: string; error: unknown; children: ComponentChildren; id: string }) {
  const problem = error instanceof ApiError ? error.about(pointer) : undefined;
  return (
    <div class={`field${problem ? ' invalid' : ''}`}>
      <label for={id}>{label}</label>
      {children}
      {problem && (
        <p class="field-error" id={`${id}-error`} role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

export function age(iso?: string | null): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d`;
}

export function when(iso?: string | null): string {
  return iso ? new Date(iso).toLocaleString() : '—';
}

export function StateBadge({ state }: { state: string }) {
  return <span class={`badge state-${state.replace(/[^a-z-]/gi, '')}`}>{state}</span>;
}

export function Loading({ error }: { error?: unknown }) {
  return error ? <ErrorBox error={error} /> : <p class="muted">Loading…</p>;
}

/** What a section shows where it has nothing to list. */
export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="muted">{children}</p>;
}

/** One column of a Table. */
export interface Column<T> {
  /** Names the column, and each of its cells on a narrow screen, where rows become cards. */
  label: string;
  /** The heading, when it says more than the label. */
  heading?: ComponentChildren;
  /** Only screen readers read the heading, and the cells go without a label (a column of buttons). */
  unlabelled?: boolean;
  cell: (row: T) => ComponentChildren;
}

/**
 * A table of rows, one column a field, or `empty` in its place when there are no rows. `row` gives each row its key
 * and the data attributes that name it.
 */
export function Table<T>({
  name,
  rows,
  columns,
  row,
  empty,
}: {
  name: string;
  rows: T[];
  columns: Column<T>[];
  row: (r: T) => { key: string | number; data?: Record<string, string | number> };
  empty: ComponentChildren;
}) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <div class="table-wrap">
      <table class={name}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th scope="col" key={c.label}>
                {c.unlabelled ? <span class="sr-only">{c.label}</span> : (c.heading ?? c.label)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const { key, data = {} } = row(r);
            const attributes = Object.fromEntries(Object.entries(data).map(([k, v]) => [`data-${k}`, v]));
            return (
              <tr key={key} {...attributes}>
                {columns.map((c) => (
                  <td key={c.label} data-label={c.unlabelled ? undefined : c.label}>
                    {c.cell(r)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
