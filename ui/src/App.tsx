// The console's first screen: the Pending queue with keyboard triage (j/k, Enter,
// a approve, d deny, / search, ? shortcuts) and the request detail beside it.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { listen } from "@tauri-apps/api/event";
import { ipc, isConsoleError, type RequestDetail, type RequestView, type Risk, type SessionView } from "./ipc";

const RISK_ORDER: Risk[] = ["read", "write", "destructive", "admin"];

function age(firstSeen: number): string {
  const s = Math.max(0, Math.floor(Date.now() / 1000) - firstSeen);
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function RiskBadge({ risk, sensitive }: { risk: Risk | null | undefined; sensitive?: boolean }) {
  if (!risk) return null;
  return (
    <span className={`risk risk-${risk}`} title={sensitive ? "sensitive: two approvers and MFA" : risk}>
      {risk}
      {sensitive ? " ●" : ""}
    </span>
  );
}

export function App() {
  const [session, setSession] = useState<SessionView | null>(null);
  const [items, setItems] = useState<RequestView[]>([]);
  const [total, setTotal] = useState(0);
  const [selected, setSelected] = useState(0);
  const [detail, setDetail] = useState<RequestDetail | null>(null);
  const [q, setQ] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [dropped, setDropped] = useState<Set<string>>(new Set());
  const [denying, setDenying] = useState(false);
  const [reason, setReason] = useState("");
  const [help, setHelp] = useState(false);
  const search = useRef<HTMLInputElement>(null);

  const report = useCallback((e: unknown) => setError(isConsoleError(e) ? e.message : String(e)), []);

  const refresh = useCallback(async () => {
    try {
      setSession(await ipc.session());
      const page = await ipc.listRequests({ q: q || undefined, sort: "age" });
      setItems(page.items);
      setTotal(page.total);
      setError(null);
    } catch (e) {
      report(e);
    }
  }, [q, report]);

  useEffect(() => {
    const first = setTimeout(() => void refresh(), 0);
    const un = listen("session-changed", () => void refresh());
    const unErr = listen<unknown>("console-error", (ev) => report(ev.payload));
    return () => {
      clearTimeout(first);
      void un.then((f) => f());
      void unErr.then((f) => f());
    };
  }, [refresh, report]);

  const current = items[selected];
  useEffect(() => {
    if (!current) return;
    let stale = false;
    ipc.getRequest(current.id).then(
      (d) => {
        if (!stale) {
          setDetail(d);
          setDropped(new Set());
        }
      },
      (e) => report(e),
    );
    return () => {
      stale = true;
    };
  }, [current, report]);

  // The detail shown is the one fetched for the selected row, never a stale one.
  const shown = detail && current && detail.request.id === current.id ? detail : null;
  const granted = useMemo(
    () => (shown ? shown.request.scopes.map((s) => s.name).filter((n) => !dropped.has(n)) : []),
    [shown, dropped],
  );

  const approve = useCallback(async () => {
    if (!shown) return;
    try {
      const r = await ipc.approve(shown.request.id, shown.etag, { scopes: granted });
      setNotice(
        r.request.status === "awaiting_second_approval"
          ? "Recorded your approval; a second approver must confirm."
          : `Approved ${r.request.client.name} → ${r.request.resource_app.name}.`,
      );
      await refresh();
    } catch (e) {
      report(e);
    }
  }, [shown, granted, refresh, report]);

  const deny = useCallback(async () => {
    if (!shown || !reason.trim()) return;
    try {
      await ipc.deny(shown.request.id, shown.etag, reason.trim());
      setNotice(`Denied ${shown.request.client.name} → ${shown.request.resource_app.name}.`);
      setDenying(false);
      setReason("");
      await refresh();
    } catch (e) {
      report(e);
    }
  }, [shown, reason, refresh, report]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) {
        if (e.key === "Escape") (e.target as HTMLElement).blur();
        return;
      }
      if (e.key === "j") setSelected((s) => Math.min(s + 1, Math.max(items.length - 1, 0)));
      else if (e.key === "k") setSelected((s) => Math.max(s - 1, 0));
      else if (e.key === "a") void approve();
      else if (e.key === "d") setDenying(true);
      else if (e.key === "/") {
        e.preventDefault();
        search.current?.focus();
      } else if (e.key === "?") setHelp((h) => !h);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [items.length, approve]);

  return (
    <div className="app">
      <header>
        <strong className="brand">Gatehouse</strong>
        <span className="muted">{session ? `${session.profile_name} · ${session.issuer}` : "Not signed in"}</span>
        <span className="who" data-testid="who">
          {session ? `${session.subject} (${session.roles.join(", ") || "no role"})${session.mfa ? " · MFA" : ""}` : ""}
        </span>
      </header>
      {error && (
        <div className="banner error" role="alert">
          {error}
        </div>
      )}
      {notice && (
        <div className="banner ok" role="status" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      <main>
        <section className="queue">
          <div className="toolbar">
            <h1>
              Pending <span className="count" data-testid="pending-count">{total}</span>
            </h1>
            <input
              ref={search}
              placeholder="Search client, app, user, scope  ( / )"
              value={q}
              onChange={(e) => setQ(e.target.value)}
            />
          </div>
          <table>
            <thead>
              <tr>
                <th>Client</th>
                <th>Resource app</th>
                <th>Risk</th>
                <th>Users</th>
                <th>Refused</th>
                <th>Age</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r, i) => (
                <tr
                  key={r.id}
                  className={i === selected ? "selected" : ""}
                  onClick={() => setSelected(i)}
                  data-testid="request-row"
                >
                  <td>{r.client.name}</td>
                  <td>{r.resource_app.name}</td>
                  <td>
                    <RiskBadge risk={r.highest_risk} sensitive={r.sensitive} />
                  </td>
                  <td>{r.users.length}</td>
                  <td>{r.refused_count}</td>
                  <td>{age(r.first_seen)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {items.length === 0 && <p className="muted empty">Nothing waits for a decision.</p>}
        </section>
        <aside className="detail">
          {shown ? (
            <>
              <h2>
                {shown.request.client.name} → {shown.request.resource_app.name}
              </h2>
              <p className="muted">
                {shown.request.status.replace(/_/g, " ")} · first seen {age(shown.request.first_seen)} ago ·{" "}
                {shown.request.refused_count} refused exchanges
              </p>
              {shown.request.justification && <blockquote>{shown.request.justification}</blockquote>}
              <h3>Scopes (uncheck to drop)</h3>
              <ul className="scopes">
                {[...shown.request.scopes]
                  .sort((a, b) => RISK_ORDER.indexOf(b.risk) - RISK_ORDER.indexOf(a.risk))
                  .map((s) => (
                    <li key={s.name}>
                      <label>
                        <input
                          type="checkbox"
                          checked={!dropped.has(s.name)}
                          onChange={() =>
                            setDropped((d) => {
                              const n = new Set(d);
                              if (n.has(s.name)) n.delete(s.name);
                              else n.add(s.name);
                              return n;
                            })
                          }
                        />
                        <code>{s.name}</code> <RiskBadge risk={s.risk} sensitive={s.sensitive} />
                        <span className="muted"> {s.description}</span>
                      </label>
                    </li>
                  ))}
              </ul>
              <h3>Who asked</h3>
              <ul>
                {shown.request.users.map((u) => (
                  <li key={u.username}>
                    {u.username} <span className="muted">({u.groups.join(", ")})</span>
                  </li>
                ))}
              </ul>
              <div className="actions">
                <button onClick={() => void approve()} disabled={granted.length === 0}>
                  Approve {granted.length} scope{granted.length === 1 ? "" : "s"} (a)
                </button>
                <button className="secondary" onClick={() => setDenying(true)}>
                  Deny… (d)
                </button>
              </div>
              {denying && (
                <div className="deny">
                  <textarea
                    autoFocus
                    placeholder="Reason (required)"
                    value={reason}
                    onChange={(e) => setReason(e.target.value)}
                  />
                  <button onClick={() => void deny()} disabled={!reason.trim()}>
                    Deny
                  </button>
                </div>
              )}
            </>
          ) : (
            <p className="muted">Select a request (j/k).</p>
          )}
        </aside>
      </main>
      {help && (
        <div className="help" role="dialog" aria-label="Keyboard shortcuts">
          <h3>Keyboard</h3>
          <p>j / k move · a approve · d deny · / search · ? this help · Esc leave a field</p>
        </div>
      )}
    </div>
  );
}
