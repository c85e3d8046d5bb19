// The Connections screen: the inventory (server-side filter, sort, search; a
// virtualised TanStack table, so 100k rows scroll like 10) and the selected
// connection with its grant, its revocation receipts per receiver, the
// approval's end (owners' attestation, renewal), and the actions: narrow
// scopes, suspend, resume, revoke, attest, renew or not — each with a reason.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { createColumnHelper, flexRender, getCoreRowModel, useReactTable } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import {
  ipc,
  isConsoleError,
  type ConnectionDetail,
  type ConnectionSort,
  type ConnectionStatusFilter,
  type ConnectionView,
} from "./ipc";
import { ago, chosen, inField, RiskBadge, RiskSelect, toggled, type ScreenProps } from "./common";

const STATUSES: [ConnectionStatusFilter, string][] = [
  ["all", "Any status"],
  ["active", "Active"],
  ["suspended", "Suspended"],
  ["revoked", "Revoked"],
  ["expired", "Expired"],
];
const SORTS: [ConnectionSort, string][] = [
  ["created", "Newest"],
  ["last_used", "Last used"],
  ["client", "Client"],
  ["app", "App"],
  ["risk", "Risk"],
];

const col = createColumnHelper<ConnectionView>();
const columns = [
  col.accessor((c) => c.client.name, { id: "client", header: "Client" }),
  col.accessor((c) => c.resource_app.name, { id: "app", header: "Resource app" }),
  col.accessor("status", { header: "Status", cell: (c) => <span className={`status status-${c.getValue()}`}>{c.getValue()}</span> }),
  col.accessor("highest_risk", { header: "Risk", cell: (c) => <RiskBadge risk={c.getValue()} /> }),
  col.accessor((c) => c.granted_scopes.length, { id: "scopes", header: "Scopes" }),
  col.accessor("last_used_at", { header: "Last used", cell: (c) => ago(c.getValue()) }),
];

type Action = "suspend" | "resume" | "revoke";
/** What is done about an approval coming to its end. */
type Renewal = "still-needed" | "not-needed" | "renew" | "no-renew";
const RENEWAL_LABELS: Record<Renewal, string> = {
  "still-needed": "Attest: still needed",
  "not-needed": "Attest: no longer needed",
  renew: "Renew",
  "no-renew": "Don't renew",
};
const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);

export function Connections({ tick, online, report, notify, focus }: ScreenProps) {
  const [items, setItems] = useState<ConnectionView[]>([]);
  const [total, setTotal] = useState(0);
  const [q, setQ] = useState("");
  const [status, setStatus] = useState<ConnectionStatusFilter>("active");
  const [risk, setRisk] = useState("");
  const [sort, setSort] = useState<ConnectionSort>("created");
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [detail, setDetail] = useState<ConnectionDetail | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [renewal, setRenewal] = useState<Renewal | null>(null);
  const [renewDays, setRenewDays] = useState("");
  const [reason, setReason] = useState("");
  const [dropped, setDropped] = useState<Set<string>>(new Set());
  const [elapsed, setElapsed] = useState<number | null>(null);
  const [next, setNext] = useState<string | null>(null);
  // A link to a connection: its detail, whatever its status, in the unfiltered list.
  useEffect(() => {
    if (!focus) return;
    const t = setTimeout(() => {
      setQ("");
      setRisk("");
      setStatus("all");
      setSelectedId(focus.id);
    }, 0);
    return () => clearTimeout(t);
  }, [focus]);
  // The cursor being fetched (a ref: it must not re-run the effect that fetches).
  const loadingMore = useRef<string | null>(null);
  const search = useRef<HTMLInputElement>(null);
  const scroller = useRef<HTMLDivElement>(null);

  const refresh = useCallback(async () => {
    const started = performance.now();
    try {
      const page = await ipc.listConnections({
        q: q || null,
        status,
        risk: (risk || null) as ConnectionView["highest_risk"],
        sort,
        limit: 500,
      });
      loadingMore.current = null;
      setItems(page.items);
      setTotal(page.total);
      setNext(page.next_cursor ?? null);
      setElapsed(Math.round(performance.now() - started));
    } catch (e) {
      report(e);
    }
  }, [q, status, risk, sort, report]);

  useEffect(() => {
    const t = setTimeout(() => void refresh(), q ? 150 : 0);
    return () => clearTimeout(t);
  }, [refresh, tick, q]);

  const loadDetail = useCallback(
    async (id: string) => {
      try {
        setDetail(await ipc.getConnection(id));
      } catch (e) {
        report(e);
      }
    },
    [report],
  );

  useEffect(() => {
    if (!selectedId) return;
    const t = setTimeout(() => void loadDetail(selectedId), 0);
    return () => clearTimeout(t);
  }, [selectedId, loadDetail, tick]);

  // eslint-disable-next-line react-hooks/incompatible-library -- no React Compiler here; the table is re-read every render
  const table = useReactTable({ data: items, columns, getCoreRowModel: getCoreRowModel() });
  const rows = table.getRowModel().rows;
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 34,
    overscan: 12,
  });

  // The next page comes in as the last rows scroll into view.
  const last = virtual.getVirtualItems().at(-1)?.index ?? 0;
  useEffect(() => {
    if (!next || loadingMore.current === next || last < items.length - 20) return;
    loadingMore.current = next;
    const query = { q: q || null, status, risk: (risk || null) as ConnectionView["highest_risk"], sort, limit: 500 };
    ipc.listConnections({ ...query, cursor: next }).then(
      (page) => {
        // Only if the list is still the one this page continues.
        if (loadingMore.current !== next) return;
        setItems((have) => [...have, ...page.items]);
        setNext(page.next_cursor ?? null);
      },
      report,
    );
  }, [last, items.length, next, q, status, risk, sort, report]);

  const shown = detail && detail.connection.id === selectedId ? detail.connection : null;
  const kept = useMemo(
    () => (shown ? shown.granted_scopes.map((s) => s.name).filter((n) => !dropped.has(n)) : []),
    [shown, dropped],
  );

  const act = useCallback(async () => {
    if (!detail || !action || !reason.trim() || !online) return;
    try {
      const c = await ipc.connectionAction(detail.connection.id, detail.etag, action, reason.trim());
      notify(`${action === "revoke" ? "Revoked" : action === "suspend" ? "Suspended" : "Resumed"} ${c.client.name} → ${c.resource_app.name}.`);
      setAction(null);
      setReason("");
      await loadDetail(c.id);
      await refresh();
    } catch (e) {
      if (isConsoleError(e) && e.code === "stale") {
        notify("The connection changed meanwhile; it has been reloaded. Check it and try again.");
        await loadDetail(detail.connection.id);
      } else report(e);
    }
  }, [detail, action, reason, online, notify, loadDetail, refresh, report]);

  const decideRenewal = useCallback(async () => {
    if (!detail || !renewal || !reason.trim() || !online) return;
    const { id } = detail.connection;
    try {
      if (renewal === "still-needed" || renewal === "not-needed") {
        await ipc.attestConnection(id, detail.etag, renewal === "still-needed", reason.trim());
        notify(renewal === "still-needed" ? "Attested: still needed." : "Attested: no longer needed.");
      } else {
        const until = renewal === "renew" && renewDays.trim() ? Math.floor(Date.now() / 1000) + Number(renewDays) * 86_400 : null;
        const c = await ipc.renewConnection(id, detail.etag, renewal === "renew" ? "renewed" : "not_renewed", until, reason.trim());
        notify(renewal === "renew" ? `Renewed until ${c.expires_at ? day(c.expires_at) : "revoked"}.` : "It will lapse at its expiry.");
      }
      setRenewal(null);
      setRenewDays("");
      setReason("");
      await loadDetail(id);
    } catch (e) {
      if (isConsoleError(e) && e.code === "stale") {
        notify("The connection changed meanwhile; it has been reloaded. Check it and try again.");
        await loadDetail(id);
      } else report(e);
    }
  }, [detail, renewal, renewDays, reason, online, notify, loadDetail, report]);

  const narrow = useCallback(async () => {
    if (!detail || !reason.trim() || kept.length === 0 || !online) return;
    try {
      await ipc.modifyConnection(detail.connection.id, detail.etag, { scopes: kept, reason: reason.trim() });
      notify(`Narrowed to ${kept.join(", ")}.`);
      setDropped(new Set());
      setReason("");
      await loadDetail(detail.connection.id);
    } catch (e) {
      report(e);
    }
  }, [detail, reason, kept, online, notify, loadDetail, report]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (inField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const i = items.findIndex((c) => c.id === selectedId);
      if (e.key === "j" && items.length) setSelectedId(items[Math.min(i + 1, items.length - 1)].id);
      else if (e.key === "k" && items.length) setSelectedId(items[Math.max(i - 1, 0)].id);
      else if (e.key === "r" && selectedId) setAction("revoke");
      else if (e.key === "s" && selectedId) setAction("suspend");
      else if (e.key === "/") {
        e.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [items, selectedId]);

  useEffect(() => {
    const i = items.findIndex((c) => c.id === selectedId);
    if (i >= 0) virtual.scrollToIndex(i);
  }, [items, selectedId, virtual]);

  return (
    <main className="split">
      <section className="queue">
        <div className="toolbar">
          <h1>
            Connections <span className="count" data-testid="connection-count">{total}</span>
          </h1>
          <input
            ref={search}
            placeholder="Search client, app, id  ( / )"
            value={q}
            onChange={(e) => setQ(e.target.value)}
          />
          <select value={status} onChange={(e) => setStatus(chosen(STATUSES, e.target.value, "all"))} aria-label="Status">
            {STATUSES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
          <RiskSelect value={risk} onChange={setRisk} />
          <select value={sort} onChange={(e) => setSort(chosen(SORTS, e.target.value, "created"))} aria-label="Sort">
            {SORTS.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <p className="muted small">
          {items.length < total ? `${items.length} of ${total} loaded; more load as you scroll. ` : ""}
          {elapsed != null ? `Answered in ${elapsed} ms.` : ""}
        </p>
        <div className="vtable" ref={scroller}>
          <table>
            <thead>
              {table.getHeaderGroups().map((hg) => (
                <tr key={hg.id}>
                  {hg.headers.map((h) => (
                    <th key={h.id}>{flexRender(h.column.columnDef.header, h.getContext())}</th>
                  ))}
                </tr>
              ))}
            </thead>
            <tbody style={{ height: virtual.getTotalSize(), position: "relative", display: "block" }}>
              {virtual.getVirtualItems().map((v) => {
                const row = rows[v.index];
                return (
                  <tr
                    key={row.id}
                    data-testid="connection-row"
                    data-connection-id={row.original.id}
                    className={row.original.id === selectedId ? "selected" : ""}
                    onClick={() => setSelectedId(row.original.id)}
                    style={{ position: "absolute", top: 0, transform: `translateY(${v.start}px)`, display: "table", width: "100%", tableLayout: "fixed" }}
                  >
                    {row.getVisibleCells().map((c) => (
                      <td key={c.id}>{flexRender(c.column.columnDef.cell, c.getContext())}</td>
                    ))}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {items.length === 0 && <p className="muted empty">No connection matches.</p>}
      </section>
      <aside className="detail" data-testid="connection-detail">
        {shown ? (
          <>
            <h2>
              {shown.client.name} → {shown.resource_app.name}
            </h2>
            <p className="muted">
              <span className={`status status-${shown.status}`} data-testid="connection-status">
                {shown.status}
              </span>{" "}
              · approved by {shown.approved_by.join(", ") || "seed"} · created {ago(shown.created_at)} ago · last used{" "}
              {ago(shown.last_used_at)}
              {shown.expires_at ? ` · expires ${day(shown.expires_at)}` : ""}
            </p>
            {shown.status_reason && <blockquote>{shown.status_reason}</blockquote>}
            <h3>Granted scopes{shown.status === "active" ? " (uncheck to narrow)" : ""}</h3>
            <ul className="scopes">
              {shown.granted_scopes.map((s) => (
                <li key={s.name} className={dropped.has(s.name) ? "dropped" : ""}>
                  <label>
                    <input
                      type="checkbox"
                      disabled={shown.status !== "active"}
                      checked={!dropped.has(s.name)}
                      onChange={() =>
                        setDropped((d) => toggled(d, s.name))
                      }
                    />
                    <code>{s.name}</code> <RiskBadge risk={s.risk} sensitive={s.sensitive} />
                    <span className="muted"> {s.description}</span>
                  </label>
                </li>
              ))}
            </ul>
            <p className="muted">
              Groups: {shown.allowed_groups.join(", ") || "anyone"} · ID-JAG lifetime:{" "}
              {shown.id_jag_lifetime ? `${shown.id_jag_lifetime} s` : "default"}
              {shown.step_up.length ? ` · step-up on ${shown.step_up.map((r) => r.scope).join(", ")}` : ""}
              {shown.excluded_users.length ? ` · removed by access review: ${shown.excluded_users.join(", ")}` : ""}
            </p>
            {shown.expires_at != null && (shown.status === "active" || shown.status === "suspended") && (
              <div className="approval-end" data-testid="approval-end">
                <h3>Approval ends {day(shown.expires_at)}</h3>
                {shown.attestation ? (
                  <p className="muted" data-testid="attestation">
                    Owners asked {day(shown.attestation.asked_at)}:{" "}
                    {shown.attestation.still_needed == null
                      ? "no answer yet"
                      : `${shown.attestation.attested_by} says ${shown.attestation.still_needed ? "still needed" : "no longer needed"} — “${shown.attestation.attest_reason}”`}
                    {shown.attestation.renewal &&
                      ` · ${shown.attestation.renewal === "renewed" ? "renewed" : "not to be renewed"} by ${shown.attestation.decided_by}`}
                  </p>
                ) : (
                  <p className="muted">Its owners have not been asked yet.</p>
                )}
                <div className="actions">
                  {(Object.keys(RENEWAL_LABELS) as Renewal[]).map((r) => (
                    <button key={r} className="secondary small" data-testid={`renewal-${r}`} disabled={!online} onClick={() => setRenewal(r)}>
                      {RENEWAL_LABELS[r]}…
                    </button>
                  ))}
                </div>
                {renewal && (
                  <div className="renewal-form">
                    {renewal === "renew" && (
                      <label>
                        For <input type="number" min={1} max={3650} placeholder="policy" value={renewDays} data-testid="renew-days" onChange={(e) => setRenewDays(e.target.value)} /> days from today{" "}
                        <span className="muted">(empty: the policy's lifetime for its risk)</span>
                      </label>
                    )}
                    <textarea
                      autoFocus
                      data-testid="renewal-reason"
                      placeholder={`Why — ${RENEWAL_LABELS[renewal].toLowerCase()} (required, kept in the audit trail)`}
                      value={reason}
                      onChange={(e) => setReason(e.target.value)}
                    />
                    <div>
                      <button data-testid="confirm-renewal" onClick={() => void decideRenewal()} disabled={!reason.trim() || !online}>
                        {RENEWAL_LABELS[renewal]}
                      </button>{" "}
                      <button className="secondary" onClick={() => setRenewal(null)}>
                        Cancel
                      </button>
                    </div>
                  </div>
                )}
              </div>
            )}
            {shown.receipts.length > 0 && (
              <>
                <h3>Revocation receipts</h3>
                <table className="receipts" data-testid="receipts">
                  <thead>
                    <tr>
                      <th>Receiver</th>
                      <th>Status</th>
                      <th>Attempts</th>
                      <th>Latency</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.receipts.map((r) => (
                      <tr key={r.event_id + r.receiver} data-testid="receipt">
                        <td title={r.receiver}>{new URL(r.receiver).host}</td>
                        <td className={`receipt-${r.status}`}>{r.status}</td>
                        <td>{r.attempts}</td>
                        <td>{r.latency_ms != null ? `${r.latency_ms} ms` : r.last_error ?? "…"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
            {shown.status !== "revoked" && (
              <div className="actions">
                {dropped.size > 0 && (
                  <button onClick={() => void narrow()} disabled={!online || !reason.trim() || kept.length === 0}>
                    Narrow to {kept.length} scope{kept.length === 1 ? "" : "s"}
                  </button>
                )}
                {shown.status === "active" && (
                  <button className="secondary" onClick={() => setAction("suspend")} disabled={!online}>
                    Suspend… (s)
                  </button>
                )}
                {shown.status === "suspended" && (
                  <button className="secondary" onClick={() => setAction("resume")} disabled={!online}>
                    Resume…
                  </button>
                )}
                <button className="danger" data-testid="revoke" onClick={() => setAction("revoke")} disabled={!online}>
                  Revoke… (r)
                </button>
              </div>
            )}
            {(action || dropped.size > 0) && (
              <div className="deny">
                <textarea
                  autoFocus
                  data-testid="reason"
                  placeholder={`Reason to ${action ?? "narrow"} (required, kept in the audit trail)`}
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                />
                {action && (
                  <button data-testid="confirm-action" onClick={() => void act()} disabled={!reason.trim() || !online}>
                    {action[0].toUpperCase() + action.slice(1)}
                  </button>
                )}
              </div>
            )}
          </>
        ) : (
          <p className="muted">Select a connection (j/k).</p>
        )}
      </aside>
    </main>
  );
}
