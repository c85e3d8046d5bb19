// The Pending screen: the queue with keyboard triage (j/k, Enter into the
// detail, a approve, d deny, / search) and the request detail with the
// approval as a diff against the request — drop scopes, restrict groups,
// expiry, ID-JAG lifetime, step-up —
// handling the approver step-up challenge, a stale ETag (412) and the
// awaiting-second-approver state.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { ipc, isConsoleError, type ApproveRequest, type RequestContext, type RequestDetail, type RequestSort, type RequestView, type Risk } from "./ipc";
import { ago, inField, RISK_ORDER, RiskBadge, RiskSelect, toggled, when, type ScreenProps } from "./common";

const DAY = 86400;
const EXPIRIES: [string, number | null][] = [
  ["No expiry", null],
  ["7 days", 7 * DAY],
  ["30 days", 30 * DAY],
  ["90 days", 90 * DAY],
];
const LIFETIMES: [string, number | null][] = [
  ["IdP default", null],
  ["60 s", 60],
  ["120 s", 120],
  ["300 s", 300],
];

/** What changed between the request the approver saw and the current one. */
export function describeChange(before: RequestView, after: RequestView): string[] {
  const out: string[] = [];
  const names = (r: RequestView) => new Set(r.scopes.map((s) => s.name));
  const [b, a] = [names(before), names(after)];
  const added = [...a].filter((s) => !b.has(s));
  const removed = [...b].filter((s) => !a.has(s));
  if (added.length) out.push(`now also asks for ${added.join(", ")}`);
  if (removed.length) out.push(`no longer asks for ${removed.join(", ")}`);
  const users = new Set(before.users.map((u) => u.username));
  const newUsers = after.users.filter((u) => !users.has(u.username)).map((u) => u.username);
  if (newUsers.length) out.push(`new requesting users: ${newUsers.join(", ")}`);
  if (before.status !== after.status) out.push(`status is now ${after.status.replace(/_/g, " ")}`);
  if (after.approvals.length !== before.approvals.length)
    out.push(`approved so far by ${after.approvals.map((x) => x.approver).join(", ") || "nobody"}`);
  if ((before.justification ?? "") !== (after.justification ?? "")) out.push("the justification changed");
  return out.length ? out : ["another change was made"];
}

export function Pending({ tick, online, report, notify, focus }: ScreenProps) {
  const [items, setItems] = useState<RequestView[]>([]);
  const [total, setTotal] = useState(0);
  const [selected, setSelected] = useState(0);
  const [detail, setDetail] = useState<RequestDetail | null>(null);
  const [q, setQ] = useState("");
  const [risk, setRisk] = useState("");
  const [sort, setSort] = useState<RequestSort>("age");
  const [dropped, setDropped] = useState<Set<string>>(new Set());
  const [groups, setGroups] = useState<Set<string>>(new Set());
  const [expiry, setExpiry] = useState<number | null>(null);
  const [lifetime, setLifetime] = useState<number | null>(null);
  const [mfaForSensitive, setMfaForSensitive] = useState(false);
  const [denying, setDenying] = useState(false);
  const [reason, setReason] = useState("");
  const [changed, setChanged] = useState<string[] | null>(null);
  const [stepUp, setStepUp] = useState(false);
  const [busy, setBusy] = useState(false);
  const [context, setContext] = useState<RequestContext | null>(null);
  const search = useRef<HTMLInputElement>(null);
  const scroller = useRef<HTMLDivElement>(null);
  // Only the rows in view are in the DOM: a 500-row page costs what 20 rows do.
  const virtual = useVirtualizer({
    count: items.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 34,
    overscan: 10,
  });

  const refresh = useCallback(async () => {
    try {
      const page = await ipc.listRequests({ q: q || undefined, sort, risk: (risk || undefined) as Risk | undefined });
      setItems(page.items);
      setTotal(page.total);
    } catch (e) {
      report(e);
    }
  }, [q, sort, risk, report]);

  useEffect(() => {
    const t = setTimeout(() => void refresh(), 0);
    return () => clearTimeout(t);
  }, [refresh, tick]);

  // A link to a request: the queue unfiltered, that request selected once it is
  // listed; one that has left the queue (decided, expired) says so instead.
  const [wanted, setWanted] = useState<string | null>(null);
  useEffect(() => {
    if (!focus) return;
    const t = setTimeout(() => {
      setQ("");
      setRisk("");
      setWanted(focus.id);
    }, 0);
    return () => clearTimeout(t);
  }, [focus]);
  useEffect(() => {
    if (!wanted) return;
    let stale = false;
    const i = items.findIndex((r) => r.id === wanted);
    const t = setTimeout(() => {
      if (i >= 0) {
        setSelected(i);
        setWanted(null);
        return;
      }
      ipc.getRequest(wanted).then(
        (d) => {
          const status = d.request.status;
          // Still queued: selected when the next refresh lists it.
          if (stale || status === "pending" || status === "awaiting_second_approval") return;
          setWanted(null);
          notify(`That request is ${status.replaceAll("_", " ")}: it is no longer in the queue.`);
        },
        (e) => {
          // Not signed in yet (a link at start-up): asked again once the queue loads.
          if (stale || (isConsoleError(e) && e.code === "not_signed_in")) return;
          setWanted(null);
          report(e);
        },
      );
    }, 0);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [wanted, items, notify, report]);

  const current = items[Math.min(selected, Math.max(items.length - 1, 0))];
  const currentId = current?.id;
  const currentVersion = current?.version;
  useEffect(() => {
    if (!currentId) return;
    let stale = false;
    ipc.getRequest(currentId).then(
      (d) => {
        if (stale) return;
        setDetail((prev) => {
          if (!prev || prev.request.id !== d.request.id) {
            setDropped(new Set());
            setGroups(new Set());
            setExpiry(null);
            setLifetime(null);
            setMfaForSensitive(false);
            setChanged(null);
            setStepUp(false);
            setDenying(false);
          }
          return d;
        });
      },
      (e) => report(e),
    );
    return () => {
      stale = true;
    };
  }, [currentId, currentVersion, report]);

  // Owners, groups and history: extra context, not needed to decide, so a
  // failure here leaves the detail as it is.
  useEffect(() => {
    if (!currentId) return;
    let stale = false;
    ipc.requestContext(currentId).then(
      (c) => {
        if (!stale) setContext(c);
      },
      () => {
        if (!stale) setContext(null);
      },
    );
    return () => {
      stale = true;
    };
  }, [currentId, currentVersion]);

  useEffect(() => {
    if (items.length) virtual.scrollToIndex(Math.min(selected, items.length - 1));
  }, [selected, items.length, virtual]);

  // The detail shown is the one fetched for the selected row, never a stale one.
  const shown = detail && current && detail.request.id === current.id ? detail : null;
  const granted = useMemo(
    () => (shown ? shown.request.scopes.map((s) => s.name).filter((n) => !dropped.has(n)) : []),
    [shown, dropped],
  );
  const shownContext = context && shown && context.history.every((e) => e.target === shown.request.id) ? context : null;
  // Who would gain access: everyone in the directory, or the members of the chosen groups.
  const gaining = useMemo(() => {
    if (!shownContext) return null;
    if (!groups.size) return { count: shownContext.directory_users, names: [] as string[] };
    const members = new Set(shownContext.groups.filter((g) => groups.has(g.name)).flatMap((g) => g.members));
    return { count: members.size, names: [...members].sort() };
  }, [shownContext, groups]);
  const requestGroups = useMemo(
    () => (shown ? [...new Set(shown.request.users.flatMap((u) => u.groups))].sort() : []),
    [shown],
  );

  const grant = useCallback((): ApproveRequest => {
    const g: ApproveRequest = { scopes: granted };
    if (groups.size) g.allowed_groups = [...groups].sort();
    if (expiry) g.expires_at = Math.floor(Date.now() / 1000) + expiry;
    if (lifetime) g.id_jag_lifetime = lifetime;
    if (mfaForSensitive && shown)
      g.step_up = shown.request.scopes
        .filter((s) => s.sensitive && granted.includes(s.name))
        .map((s) => ({ scope: s.name, acr: "urn:gatehouse:acr:mfa", max_age: 600 }));
    return g;
  }, [granted, groups, expiry, lifetime, mfaForSensitive, shown]);

  const approve = useCallback(async () => {
    if (!shown || !online || granted.length === 0 || busy) return;
    setBusy(true);
    try {
      const r = await ipc.approve(shown.request.id, shown.etag, grant());
      setChanged(null);
      setStepUp(false);
      notify(
        r.request.status === "awaiting_second_approval"
          ? `Recorded your approval of ${r.request.client.name} → ${r.request.resource_app.name}; a second approver must confirm.`
          : `Approved ${r.request.client.name} → ${r.request.resource_app.name} with ${granted.join(", ")}.`,
      );
      await refresh();
    } catch (e) {
      if (isConsoleError(e) && e.code === "step_up_required") {
        setStepUp(true);
      } else if (isConsoleError(e) && e.code === "stale") {
        // Someone changed it while we looked: show what changed, ask again.
        try {
          const fresh = await ipc.getRequest(shown.request.id);
          setChanged(describeChange(shown.request, fresh.request));
          setDetail(fresh);
        } catch (e2) {
          report(e2);
        }
      } else report(e);
    } finally {
      setBusy(false);
    }
  }, [shown, online, granted, busy, grant, notify, refresh, report]);

  const reauthenticate = useCallback(async () => {
    setBusy(true);
    try {
      await ipc.stepUp();
      setStepUp(false);
    } catch (e) {
      report(e);
    } finally {
      setBusy(false);
    }
    await approve();
  }, [approve, report]);

  const deny = useCallback(async () => {
    if (!shown || !reason.trim() || !online) return;
    try {
      await ipc.deny(shown.request.id, shown.etag, reason.trim());
      notify(`Denied ${shown.request.client.name} → ${shown.request.resource_app.name}.`);
      setDenying(false);
      setReason("");
      await refresh();
    } catch (e) {
      if (isConsoleError(e) && e.code === "stale") {
        const fresh = await ipc.getRequest(shown.request.id).catch(() => null);
        if (fresh) {
          setChanged(describeChange(shown.request, fresh.request));
          setDetail(fresh);
        }
      } else report(e);
    }
  }, [shown, reason, online, notify, refresh, report]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (inField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === "j") setSelected((s) => Math.min(s + 1, Math.max(items.length - 1, 0)));
      else if (e.key === "k") setSelected((s) => Math.max(s - 1, 0));
      else if (e.key === "Enter") document.querySelector<HTMLButtonElement>('[data-testid="approve"]')?.focus();
      else if (e.key === "a") void approve();
      else if (e.key === "d") setDenying(true);
      else if (e.key === "/") {
        e.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [items.length, approve]);

  const toggle = (set: (f: (s: Set<string>) => Set<string>) => void, name: string) => set((d) => toggled(d, name));

  return (
    <main className="split">
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
          <RiskSelect value={risk} onChange={setRisk} />
          <select value={sort} onChange={(e) => setSort(e.target.value as RequestSort)} aria-label="Order">
            <option value="age">Oldest first</option>
            <option value="-age">Newest first</option>
            <option value="refused">Most refused</option>
            <option value="users">Most users</option>
            <option value="risk">Highest risk</option>
          </select>
        </div>
        <div className="vtable" ref={scroller}>
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
            <tbody style={{ height: virtual.getTotalSize(), position: "relative", display: "block" }}>
              {virtual.getVirtualItems().map((v) => {
                const r = items[v.index];
                return (
                  <tr
                    key={r.id}
                    className={r.id === current?.id ? "selected" : ""}
                    onClick={() => setSelected(v.index)}
                    data-testid="request-row"
                    data-request-id={r.id}
                    style={{ position: "absolute", top: 0, transform: `translateY(${v.start}px)`, display: "table", width: "100%", tableLayout: "fixed" }}
                  >
                    <td>
                      {r.reapproval && (
                        <span className="tag" data-testid="reapproval-tag" title="A live connection to re-approve">
                          re-approval
                        </span>
                      )}{" "}
                      {r.client.name}
                    </td>
                    <td>{r.resource_app.name}</td>
                    <td>
                      <RiskBadge risk={r.highest_risk} sensitive={r.sensitive} />
                    </td>
                    <td>{r.users.length}</td>
                    <td>{r.refused_count}</td>
                    <td>{ago(r.first_seen)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {items.length === 0 && <p className="muted empty">Nothing waits for a decision.</p>}
      </section>
      <aside className="detail" data-testid="request-detail">
        {shown ? (
          <>
            <h2>
              {shown.request.client.name} → {shown.request.resource_app.name}
            </h2>
            <p className="muted">
              <span data-testid="request-status">{shown.request.status.replace(/_/g, " ")}</span> · first seen{" "}
              {ago(shown.request.first_seen)} ago · last {ago(shown.request.last_seen)} ago ·{" "}
              {shown.request.refused_count} refused exchanges
            </p>
            {shownContext?.client && (
              <p className="muted" data-testid="client-owners">
                Client owned by {shownContext.client.owners.join(", ") || "nobody"} · {shownContext.client.connections} connection
                {shownContext.client.connections === 1 ? "" : "s"} · authenticates with {shownContext.client.auth_method}
              </p>
            )}
            {changed && (
              <div className="banner warn" role="alert" data-testid="stale">
                This request changed while you were looking: {changed.join("; ")}. Review it and decide again.
              </div>
            )}
            {shown.request.approvals.length > 0 && (
              <p className="banner info" data-testid="awaiting">
                Approved by {shown.request.approvals.map((a) => a.approver).join(", ")}
                {shown.request.status === "awaiting_second_approval" ? " — waiting for a second approver." : "."}
              </p>
            )}
            {shown.request.reapproval && (
              <div className="banner warn" data-testid="reapproval">
                <p>
                  Re-approval of a live connection: it keeps working as approved until you decide. Approving confirms it;
                  denying revokes it.
                </p>
                <ul>
                  {shown.request.reapproval.changes.map((c) => (
                    <li key={c.scope}>
                      <code>{c.scope}</code>:{" "}
                      {c.risk_before !== c.risk_after && (
                        <>
                          {c.risk_before} → <b>{c.risk_after}</b>
                        </>
                      )}
                      {c.risk_before !== c.risk_after && !c.sensitive_before && c.sensitive_after && ", "}
                      {!c.sensitive_before && c.sensitive_after && <b>now sensitive</b>}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {(shown.request.rules_changed ?? []).length > 0 && (
              <div className="banner warn" data-testid="rules-changed">
                <p>Decided ({shown.request.status}) under rules that have since changed:</p>
                <ul>
                  {(shown.request.rules_changed ?? []).map((c) => (
                    <li key={c.scope}>
                      <code>{c.scope}</code>: {c.risk_before !== c.risk_after ? `${c.risk_before} → ${c.risk_after}` : c.risk_after}
                      {c.sensitive_before !== c.sensitive_after && (c.sensitive_after ? ", now sensitive" : ", no longer sensitive")}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {shown.request.justification && <blockquote>{shown.request.justification}</blockquote>}
            {shown.request.reapproval ? (
              <>
                <h3>Scopes the connection grants</h3>
                <ul className="scopes">
                  {shown.request.scopes.map((s) => (
                    <li key={s.name}>
                      <code>{s.name}</code> <RiskBadge risk={s.risk} sensitive={s.sensitive} />
                      <span className="muted"> {s.description}</span>
                    </li>
                  ))}
                </ul>
              </>
            ) : (
              <>
            <h3>Scopes (uncheck to drop)</h3>
            <ul className="scopes">
              {[...shown.request.scopes]
                .sort((a, b) => RISK_ORDER.indexOf(b.risk) - RISK_ORDER.indexOf(a.risk))
                .map((s) => (
                  <li key={s.name} className={dropped.has(s.name) ? "dropped" : ""}>
                    <label>
                      <input
                        type="checkbox"
                        data-testid={`scope-${s.name}`}
                        checked={!dropped.has(s.name)}
                        onChange={() => toggle(setDropped, s.name)}
                      />
                      <code>{s.name}</code> <RiskBadge risk={s.risk} sensitive={s.sensitive} />
                      <span className="muted"> {s.description}</span>
                    </label>
                  </li>
                ))}
            </ul>
            <h3>Who asked, and who would gain access</h3>
            <ul>
              {shown.request.users.map((u) => (
                <li key={u.username}>
                  {u.username} <span className="muted">({u.groups.join(", ") || "no groups"})</span>
                  <span className="muted"> · {u.refused_count} refused</span>
                </li>
              ))}
            </ul>
            <p className="muted" data-testid="blast-radius">
              {gaining
                ? groups.size
                  ? `${gaining.count} people would gain access (members of ${[...groups].join(", ")}): ${gaining.names.join(", ")}.`
                  : `All ${gaining.count} people in the directory would gain access: restrict it to groups below.`
                : groups.size
                  ? `Only members of ${[...groups].join(", ")} will be able to use this connection.`
                  : "Anyone in the directory will be able to use this connection: restrict it to groups below."}
            </p>
            <div className="grant">
              <fieldset>
                <legend>Restrict to groups</legend>
                {requestGroups.map((g) => (
                  <label key={g}>
                    <input type="checkbox" checked={groups.has(g)} onChange={() => toggle(setGroups, g)} /> {g}
                  </label>
                ))}
              </fieldset>
              <label>
                Expires{" "}
                <select value={expiry ?? ""} onChange={(e) => setExpiry(e.target.value ? Number(e.target.value) : null)}>
                  {EXPIRIES.map(([l, v]) => (
                    <option key={l} value={v ?? ""}>
                      {l}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                ID-JAG lifetime{" "}
                <select
                  value={lifetime ?? ""}
                  onChange={(e) => setLifetime(e.target.value ? Number(e.target.value) : null)}
                >
                  {LIFETIMES.map(([l, v]) => (
                    <option key={l} value={v ?? ""}>
                      {l}
                    </option>
                  ))}
                </select>
              </label>
              {shown.request.sensitive && (
                <label>
                  <input type="checkbox" checked={mfaForSensitive} onChange={() => setMfaForSensitive((m) => !m)} />{" "}
                  Users need MFA (≤ 10 min) for sensitive scopes
                </label>
              )}
            </div>
              </>
            )}
            {stepUp && (
              <div className="banner warn" role="alert" data-testid="step-up">
                This approval needs a fresh sign-in with a second factor.{" "}
                <button onClick={() => void reauthenticate()} disabled={busy}>
                  Re-authenticate and approve
                </button>
              </div>
            )}
            <div className="actions">
              <button
                data-testid="approve"
                onClick={() => void approve()}
                disabled={!online || busy || granted.length === 0}
              >
                {shown.request.reapproval
                  ? "Confirm the connection (a)"
                  : granted.length === shown.request.scopes.length
                    ? `Approve all ${granted.length} scope${granted.length === 1 ? "" : "s"} (a)`
                    : `Approve ${granted.length} of ${shown.request.scopes.length} scopes (a)`}
              </button>
              <button className="secondary" onClick={() => setDenying(true)} disabled={!online}>
                {shown.request.reapproval ? "Deny and revoke… (d)" : "Deny… (d)"}
              </button>
            </div>
            {shownContext && shownContext.history.length > 0 && (
              <>
                <h3>History</h3>
                <ul className="history" data-testid="history">
                  {shownContext.history.map((e) => (
                    <li key={e.id}>
                      {when(e.at_ms)} · <code>{e.kind}</code> by {e.actor ?? "system"} · {e.outcome}
                      {e.reason ? ` — ${e.reason}` : ""}
                    </li>
                  ))}
                </ul>
              </>
            )}
            {denying && (
              <div className="deny">
                <textarea
                  autoFocus
                  placeholder="Reason (required)"
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                />
                <button onClick={() => void deny()} disabled={!reason.trim() || !online}>
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
  );
}
