// Least-privilege findings on the Overview: unused scopes, connections whose
// users left their groups, sensitive scopes without step-up — each with its
// severity, explanation and evidence, the one-click remedy where there is one
// (the connection change, sent with the connection's version like any other),
// and snooze / acknowledge / false positive with a reason. A finding whose
// evidence changes comes back by itself.
import { useCallback, useEffect, useState } from "react";
import { ipc, isConsoleError, type FindingState, type FindingView } from "./ipc";
import type { ScreenProps } from "./common";

const DAY = 86_400;
const SET: [FindingState, string][] = [
  ["snoozed", "Snooze 30 days"],
  ["acknowledged", "Acknowledge"],
  ["false_positive", "False positive"],
];

/** One line of evidence, by kind. */
function evidence(f: FindingView): string {
  const e = f.evidence as Record<string, unknown>;
  switch (f.kind) {
    case "unused_scopes": {
      const used = Object.entries((e.used ?? {}) as Record<string, { count: number; last_at_ms: number }>)
        .map(([s, u]) => `${s} ×${u.count} (last ${new Date(u.last_at_ms).toISOString().slice(0, 10)})`)
        .join(", ");
      return `used in ${e.window_days} days: ${used}; never: ${((e.unused ?? []) as string[]).join(", ")}`;
    }
    case "users_left_groups":
      return `${e.left} of ${e.users} users left (${((e.left_users ?? []) as string[]).join(", ")}); groups ${((e.groups ?? []) as string[]).join(", ")}`;
    case "sensitive_without_step_up":
      return `sensitive without step-up: ${((e.scopes ?? []) as string[]).join(", ")}`;
  }
}

export function Findings({ tick, online, report, notify }: ScreenProps) {
  const [findings, setFindings] = useState<FindingView[]>([]);
  const [all, setAll] = useState(false);
  const [deciding, setDeciding] = useState<{ id: string; state: FindingState } | null>(null);
  const [reason, setReason] = useState("");

  const load = useCallback(async () => {
    try {
      setFindings((await ipc.findings(all)) ?? []);
    } catch (e) {
      report(e);
    }
  }, [all, report]);
  useEffect(() => {
    const t = setTimeout(() => void load(), 0);
    return () => clearTimeout(t);
  }, [load, tick]);

  const remedy = useCallback(
    async (f: FindingView) => {
      if (!f.remediation) return;
      try {
        await ipc.modifyConnection(f.connection_id, `"v${f.connection_version}"`, f.remediation);
        notify(`Remedied: ${f.client.name} → ${f.resource_app.name}.`);
        await load();
      } catch (e) {
        if (isConsoleError(e) && e.code === "stale") {
          notify("The connection changed meanwhile; the findings have been reloaded.");
          await load();
        } else report(e);
      }
    },
    [notify, load, report],
  );

  const decide = useCallback(async () => {
    if (!deciding || !reason.trim()) return;
    try {
      const until = deciding.state === "snoozed" ? Math.floor(Date.now() / 1000) + 30 * DAY : null;
      await ipc.setFindingState(deciding.id, deciding.state, until, reason.trim());
      setDeciding(null);
      setReason("");
      await load();
    } catch (e) {
      report(e);
    }
  }, [deciding, reason, load, report]);

  return (
    <section className="findings" data-testid="findings">
      <div className="toolbar">
        <h2>Least-privilege findings</h2>
        <label className="muted">
          <input type="checkbox" checked={all} onChange={() => setAll(!all)} /> include snoozed and acknowledged
        </label>
      </div>
      {findings.length === 0 && <p className="muted">No finding{all ? "" : " open"}.</p>}
      <ul>
        {findings.map((f) => (
          <li key={f.id} data-testid="finding" className={`finding severity-${f.severity}`}>
            <div>
              <span className={`badge severity-${f.severity}`}>{f.severity}</span> <strong>{f.explanation}</strong>
              {f.state !== "open" && (
                <span className="muted">
                  {" "}
                  · {f.state.replace("_", " ")}
                  {f.snoozed_until ? ` until ${new Date(f.snoozed_until * 1000).toISOString().slice(0, 10)}` : ""} by {f.state_by}: “{f.state_reason}”
                </span>
              )}
            </div>
            <div className="muted" data-testid="finding-evidence">
              {evidence(f)}
            </div>
            <div className="actions">
              {f.remediation && (
                <button className="small" data-testid="finding-remedy" disabled={!online} title={f.remediation.reason} onClick={() => void remedy(f)}>
                  {f.kind === "unused_scopes" ? `Narrow to ${f.remediation.scopes?.join(", ")}` : "Require step-up"}
                </button>
              )}
              {SET.map(([state, label]) => (
                <button key={state} className="secondary small" data-testid={`finding-${state}`} disabled={!online} onClick={() => setDeciding({ id: f.id, state })}>
                  {label}…
                </button>
              ))}
            </div>
            {deciding?.id === f.id && (
              <div className="deny">
                <textarea data-testid="finding-reason" placeholder="Why (required, kept in the audit trail)" value={reason} onChange={(e) => setReason(e.target.value)} />
                <button data-testid="finding-confirm" disabled={!reason.trim() || !online} onClick={() => void decide()}>
                  {SET.find(([s]) => s === deciding.state)?.[1]}
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
