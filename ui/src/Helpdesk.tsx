// The Help desk screen: one search box (a user, an AI client or a resource
// app) → everything live for it, and the one-step actions under pressure:
// revoke everything for a user, the kill switch for a client, revoke an app's
// connections — each with a reason, the exact count first, each receiver's
// receipt after — the evidence bundle, and the latest kills with their
// deliveries and reinstatement.
import { useCallback, useRef, useState } from "react";
import { ipc, isConsoleError, type HelpdeskView, type KillResult } from "./ipc";
import { ago, RiskBadge, when, type ScreenProps } from "./common";
import { Kills } from "./Kills";

const ACTION = {
  user: "Revoke everything for this user",
  client: "Kill switch: revoke this client everywhere",
  app: "Revoke every connection to this app",
} as const;

export function Helpdesk({ tick, online, report, notify, approver }: ScreenProps & { approver: boolean }) {
  const [q, setQ] = useState("");
  const [view, setView] = useState<HelpdeskView | null>(null);
  const [reason, setReason] = useState("");
  const [count, setCount] = useState<KillResult | null>(null);
  const [done, setDone] = useState<KillResult | null>(null);
  // The call a step-up challenge interrupted (true: the count, false: the revoke).
  const [stepUp, setStepUp] = useState<boolean | null>(null);
  const [busy, setBusy] = useState(false);
  // Bumped by each kill this screen makes, so the kills list shows it at once.
  const [kills, setKills] = useState(0);
  const input = useRef<HTMLInputElement>(null);

  const search = useCallback(async () => {
    setCount(null);
    setDone(null);
    try {
      setView(await ipc.helpdeskSearch(q));
    } catch (e) {
      report(e);
    }
  }, [q, report]);

  const pick = useCallback(
    async (kind: HelpdeskView["matches"][number]["kind"], id: string) => {
      setCount(null);
      setDone(null);
      try {
        setView(await ipc.helpdeskLookup(kind, id));
      } catch (e) {
        report(e);
      }
    },
    [report],
  );

  const target = view?.target ?? null;
  const run = useCallback(
    async (dryRun: boolean) => {
      if (!target || !reason.trim()) return;
      setBusy(true);
      try {
        const r = await ipc.helpdeskKill(target.kind, target.id, reason.trim(), dryRun);
        setStepUp(null);
        if (dryRun) setCount(r);
        else {
          setDone(r);
          setCount(null);
          setKills((n) => n + 1);
          notify(`Revoked ${r.result.connections_revoked} connection(s) for ${target.name}.`);
          setView(await ipc.helpdeskLookup(target.kind, target.id));
        }
      } catch (e) {
        if (isConsoleError(e) && e.code === "step_up_required") setStepUp(dryRun);
        else report(e);
      } finally {
        setBusy(false);
      }
    },
    [target, reason, notify, report],
  );

  // Re-authenticate with a second factor, then retry what was interrupted.
  const reauthenticate = useCallback(async () => {
    const retry = stepUp;
    try {
      await ipc.stepUp();
      setStepUp(null);
      if (retry !== null) await run(retry);
    } catch (e) {
      report(e);
    }
  }, [stepUp, run, report]);

  const evidence = useCallback(async () => {
    if (!target) return;
    try {
      const n = await ipc.exportEvidence(target.kind, target.id);
      if (n != null) notify(`Evidence bundle saved (${Math.round(n / 1024)} KiB).`);
    } catch (e) {
      report(e);
    }
  }, [target, notify, report]);

  return (
    <main className="single">
      <section className="queue">
        <form
          className="toolbar"
          onSubmit={(e) => {
            e.preventDefault();
            void search();
          }}
        >
          <h1>Help desk</h1>
          <input
            ref={input}
            autoFocus
            data-testid="helpdesk-search"
            placeholder="A user, an AI client or a resource app"
            value={q}
            onChange={(e) => setQ(e.target.value)}
          />
          <button type="submit">Search</button>
        </form>
        {view && view.matches.length > 1 && (
          <div className="chips">
            {view.matches.map((m) => (
              <button
                key={`${m.kind}:${m.id}`}
                className={target?.id === m.id && target.kind === m.kind ? "chip active" : "chip"}
                onClick={() => void pick(m.kind, m.id)}
              >
                {m.kind}: {m.name}
              </button>
            ))}
          </div>
        )}
        {view && view.matches.length === 0 && <p className="muted">Nothing matches “{q}”.</p>}
        {target && view && (
          <div className="helpdesk" data-testid="helpdesk-target">
            <h2>
              {target.name} <span className="muted">({target.kind} · {target.id})</span>
            </h2>
            <p className="muted">{target.detail}</p>
            <div className="cards">
              <div className="card-stat">
                <strong data-testid="live-connections">{view.connections.length}</strong> live connections
              </div>
              <div className="card-stat">
                <strong>{view.recent_id_jags.length}</strong> ID-JAGs in 24 h
              </div>
              <div className="card-stat">
                <strong>{view.possibly_live}</strong> with access tokens possibly still valid
              </div>
            </div>
            <h3>Connections</h3>
            <table>
              <tbody>
                {view.connections.map((c) => (
                  <tr key={c.id}>
                    <td>{c.client.name}</td>
                    <td>{c.resource_app.name}</td>
                    <td>
                      <RiskBadge risk={c.highest_risk} />
                    </td>
                    <td>{c.granted_scopes.map((s) => s.name).join(" ")}</td>
                    <td className="muted">last used {ago(c.last_used_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h3>Recent ID-JAGs</h3>
            <ul className="history">
              {view.recent_id_jags.slice(0, 20).map((j) => (
                <li key={`${j.at_ms}-${j.subject}-${j.client_id}`}>
                  {when(j.at_ms)} · {j.client_id} for {j.subject} → {j.audience}
                  {j.possibly_valid_until_ms > Date.now() ? " · tokens may be live" : ""}
                </li>
              ))}
            </ul>
            <h3>{ACTION[target.kind]}</h3>
            <div className="deny">
              <textarea
                data-testid="kill-reason"
                placeholder="Reason (required, kept in the audit trail)"
                value={reason}
                onChange={(e) => {
                  setReason(e.target.value);
                  setCount(null);
                }}
              />
              <button data-testid="kill-check" disabled={!online || busy || !reason.trim()} onClick={() => void run(true)}>
                Check what it revokes
              </button>
            </div>
            {stepUp !== null && (
              <div className="banner warn" role="alert" data-testid="helpdesk-step-up">
                This needs a fresh sign-in with a second factor.{" "}
                <button onClick={() => void reauthenticate()}>Re-authenticate</button>
              </div>
            )}
            {count && (
              <div className="banner warn" data-testid="kill-count">
                This revokes exactly {count.result.connections_revoked} connection(s)
                {count.result.users_blocked ? ` and blocks ${count.result.users_blocked} user(s)` : ""}, sending{" "}
                {count.result.events_queued || "revocation"} event(s) to the resource apps.{" "}
                <button className="danger" data-testid="kill-confirm" disabled={busy} onClick={() => void run(false)}>
                  Confirm
                </button>
              </div>
            )}
            {done && (
              <div data-testid="kill-result">
                <h3>Receipts</h3>
                <table className="receipts">
                  <tbody>
                    {done.receipts.flatMap((c) =>
                      c.receipts.map((r) => (
                        <tr key={c.connection_id + r.receiver} data-testid="kill-receipt">
                          <td>{c.connection_id}</td>
                          <td>{new URL(r.receiver).host}</td>
                          <td className={`receipt-${r.status}`}>{r.status}</td>
                          <td>{r.latency_ms != null ? `${r.latency_ms} ms` : (r.last_error ?? "…")}</td>
                        </tr>
                      )),
                    )}
                  </tbody>
                </table>
              </div>
            )}
            <div className="actions">
              <button className="secondary" onClick={() => void evidence()}>
                Export evidence bundle
              </button>
            </div>
          </div>
        )}
        <Kills tick={tick + kills} online={online} report={report} notify={notify} approver={approver} />
      </section>
    </main>
  );
}
