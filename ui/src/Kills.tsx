// The latest kill switches on the Help desk screen: what each turned off, how
// far its events have reached the resource apps' receivers (refreshed while
// any are on their way), and — for an approver, with a reason and a fresh
// second factor — the reinstatement that turns exactly that back on.
import { useCallback, useEffect, useState } from "react";
import { ipc, isConsoleError, type KillView } from "./ipc";
import { when, type ScreenProps } from "./common";

export function Kills({ tick, online, report, notify, approver }: ScreenProps & { approver: boolean }) {
  const [kills, setKills] = useState<KillView[]>([]);
  const [open, setOpen] = useState<string | null>(null);
  const [reason, setReason] = useState("");
  const [stepUp, setStepUp] = useState(false);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setKills((await ipc.kills()) ?? []);
    } catch (e) {
      report(e);
    }
  }, [report]);
  const underway = kills.some((k) => k.deliveries.pending > 0);
  useEffect(() => {
    const t = setTimeout(() => void load(), 0);
    return () => clearTimeout(t);
  }, [load, tick]);
  // Events on their way: follow them once a second until none is pending.
  useEffect(() => {
    if (!underway) return;
    const t = setInterval(() => void load(), 1000);
    return () => clearInterval(t);
  }, [load, underway]);

  const reinstate = useCallback(
    async (k: KillView) => {
      if (!reason.trim()) return;
      setBusy(true);
      try {
        const done = await ipc.reinstateKill(k.id, k.version, reason.trim());
        const back = done.connections.filter((c) => c.reinstated).length;
        notify(`Reinstated ${back} connection(s)${done.blocked_user ? ` and lifted ${done.blocked_user}'s block` : ""}.`);
        setOpen(null);
        setReason("");
        setStepUp(false);
        await load();
      } catch (e) {
        if (isConsoleError(e) && e.code === "step_up_required") setStepUp(true);
        else report(e);
      } finally {
        setBusy(false);
      }
    },
    [reason, notify, load, report],
  );

  if (kills.length === 0) return null;
  return (
    <section className="kills" data-testid="kills">
      <h2>Kill switches</h2>
      <ul>
        {kills.map((k) => (
          <li key={k.id} data-testid="kill">
            <div>
              <strong>
                {k.selector.replace("_", " ")} {k.target}
              </strong>{" "}
              <span className="muted">
                · {when(k.killed_at * 1000)} by {k.killed_by} · “{k.reason}”
              </span>
            </div>
            <div className="muted" data-testid="kill-progress">
              {k.connections.length} connection(s){k.blocked_user ? `, ${k.blocked_user} blocked` : ""} · events{" "}
              {k.deliveries.delivered}/{k.deliveries.queued} delivered
              {k.deliveries.pending ? `, ${k.deliveries.pending} retrying (${Math.max(0, ...k.deliveries.receipts.map((r) => r.attempts))} tries)` : ""}
              {k.deliveries.failed ? `, ${k.deliveries.failed} failed` : ""}
            </div>
            {k.reinstated_at != null ? (
              <div data-testid="kill-reinstated">
                Reinstated {when(k.reinstated_at * 1000)} by {k.reinstated_by}: {k.connections.filter((c) => c.reinstated).length} back on
                {k.connections.some((c) => !c.reinstated) &&
                  ` (left off: ${k.connections
                    .filter((c) => !c.reinstated)
                    .map((c) => `${c.client.name} → ${c.resource_app.name}: ${c.left_off}`)
                    .join("; ")})`}
              </div>
            ) : (
              approver && (
                <div>
                  {open === k.id ? (
                    <div className="renewal-form">
                      <ul className="muted">
                        {k.connections.map((c) => (
                          <li key={c.connection_id}>
                            {c.client.name} → {c.resource_app.name}: back to {c.status_before}
                            {c.left_off ? ` — stays off: ${c.left_off}` : ""}
                          </li>
                        ))}
                        {k.blocked_user && <li>{k.blocked_user}'s block lifted</li>}
                      </ul>
                      <textarea data-testid="reinstate-reason" placeholder="Why it is safe to turn back on (required, kept in the audit trail)" value={reason} onChange={(e) => setReason(e.target.value)} />
                      {stepUp && (
                        <div className="banner warn" role="alert" data-testid="reinstate-step-up">
                          This needs a fresh sign-in with a second factor.{" "}
                          <button
                            onClick={() =>
                              void ipc.stepUp().then(() => {
                                setStepUp(false);
                                return reinstate(k);
                              }, report)
                            }
                          >
                            Re-authenticate
                          </button>
                        </div>
                      )}
                      <div>
                        <button data-testid="reinstate-confirm" disabled={!online || busy || !reason.trim()} onClick={() => void reinstate(k)}>
                          Reinstate exactly this
                        </button>{" "}
                        <button className="secondary" onClick={() => setOpen(null)}>
                          Cancel
                        </button>
                      </div>
                    </div>
                  ) : (
                    <button className="secondary small" data-testid="reinstate" disabled={!online} onClick={() => setOpen(k.id)}>
                      Reinstate…
                    </button>
                  )}
                </div>
              )
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
