// Lifecycle policies on the Reviews screen: what the IdP enforces over time
// on its own clock (idle connections warned, then suspended; pending requests
// expiring; orphaned clients' connections suspended after a grace period;
// approvals lasting a default time by risk, their owners asked to attest
// before they expire). Everyone sees them; an admin edits them at the version shown and
// can run them now instead of at the IdP's next minute.
import { useCallback, useEffect, useState } from "react";
import { ipc, type LifecyclePolicies, type PoliciesView } from "./ipc";
import type { ScreenProps } from "./common";

/** The form's text for an optional number of days ("" is off). */
const days = (v: number | null | undefined) => (v == null ? "" : String(v));
const parsed = (s: string): number | null => (s.trim() === "" ? null : Number(s));

const RISKS = ["read", "write", "destructive", "admin"] as const;
type Form = { inactivity: string; warning: string; pending: string; orphan: string; attest: string } & Record<(typeof RISKS)[number], string>;

const formOf = (p: LifecyclePolicies): Form => ({
  inactivity: days(p.inactivity_days),
  warning: String(p.inactivity_warning_days ?? 7),
  pending: days(p.pending_request_days),
  orphan: days(p.orphan_grace_days),
  attest: days(p.attestation_days),
  read: days(p.approval_days?.read),
  write: days(p.approval_days?.write),
  destructive: days(p.approval_days?.destructive),
  admin: days(p.approval_days?.admin),
});

/** "read 30 · write 60 days", or null when no risk has a default. */
const lifetimes = (p: LifecyclePolicies): string | null => {
  const set = RISKS.filter((r) => p.approval_days?.[r] != null).map((r) => `${r} ${p.approval_days?.[r]}`);
  return set.length ? `${set.join(" · ")} days` : null;
};

export function Policies({ tick, online, report, notify, admin }: ScreenProps & { admin: boolean }) {
  const [view, setView] = useState<PoliciesView | null>(null);
  const [editing, setEditing] = useState<Form | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setView(await ipc.policies());
    } catch (e) {
      report(e);
    }
  }, [report]);
  useEffect(() => {
    const t = setTimeout(() => void load(), 0);
    return () => clearTimeout(t);
  }, [load, tick]);

  const save = async () => {
    if (!view || !editing) return;
    const next: LifecyclePolicies = {
      inactivity_days: parsed(editing.inactivity),
      inactivity_warning_days: Number(editing.warning || 0),
      pending_request_days: parsed(editing.pending),
      orphan_grace_days: parsed(editing.orphan),
      attestation_days: parsed(editing.attest),
      approval_days: Object.fromEntries(RISKS.map((r) => [r, parsed(editing[r])]).filter(([, v]) => v != null)),
    };
    setBusy(true);
    try {
      setView(await ipc.setPolicies(view.version, next));
      setEditing(null);
      notify("Lifecycle policies saved.");
    } catch (e) {
      report(e);
    } finally {
      setBusy(false);
    }
  };
  const runNow = async () => {
    setBusy(true);
    try {
      const r = await ipc.runPolicies();
      notify(
        `Policies applied: ${r.requests_expired} requests expired, ${r.inactivity_warnings} owners warned, ${r.connections_suspended} idle connections suspended, ` +
          `${r.orphan_suspensions ?? 0} suspended as orphaned, ${r.attestations_requested ?? 0} attestations asked, ${r.approvals_lapsed ?? 0} approvals lapsed.`,
      );
    } catch (e) {
      report(e);
    } finally {
      setBusy(false);
    }
  };

  if (!view) return null;
  const p = view.policies;
  return (
    <div className="policies" data-testid="policies">
      <h2>Lifecycle policies</h2>
      {editing ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <label>
            Suspend a connection idle for (days) <input type="number" min={1} max={3650} placeholder="never" value={editing.inactivity} data-testid="policy-inactivity" onChange={(e) => setEditing({ ...editing, inactivity: e.target.value })} />
          </label>
          <label>
            Warn its owners (days before) <input type="number" min={0} max={365} value={editing.warning} data-testid="policy-warning" onChange={(e) => setEditing({ ...editing, warning: e.target.value })} />
          </label>
          <label>
            Expire a pending request unasked for (days) <input type="number" min={1} max={3650} placeholder="never" value={editing.pending} data-testid="policy-pending" onChange={(e) => setEditing({ ...editing, pending: e.target.value })} />
          </label>
          <label>
            Suspend an orphaned client's connections after (days) <input type="number" min={1} max={3650} placeholder="never" value={editing.orphan} data-testid="policy-orphan" onChange={(e) => setEditing({ ...editing, orphan: e.target.value })} />
          </label>
          <fieldset>
            <legend>An approval without an expiry lasts (days), by its highest risk</legend>
            {RISKS.map((r) => (
              <label key={r}>
                {r} <input type="number" min={1} max={3650} placeholder="none" value={editing[r]} data-testid={`policy-lifetime-${r}`} onChange={(e) => setEditing({ ...editing, [r]: e.target.value })} />
              </label>
            ))}
          </fieldset>
          <label>
            Ask owners to attest (days before expiry) <input type="number" min={1} max={365} placeholder="never" value={editing.attest} data-testid="policy-attest" onChange={(e) => setEditing({ ...editing, attest: e.target.value })} />
          </label>
          <div>
            <button type="submit" disabled={!online || busy} data-testid="policy-save">Save the policies</button>{" "}
            <button type="button" className="secondary" onClick={() => setEditing(null)}>Cancel</button>
          </div>
        </form>
      ) : (
        <>
          <ul data-testid="policy-summary">
            <li>
              Idle connections:{" "}
              {p.inactivity_days == null ? <span className="muted">never suspended</span> : `suspended after ${p.inactivity_days} days without an ID-JAG; owners warned ${p.inactivity_warning_days ?? 7} days before`}
            </li>
            <li>
              Pending requests:{" "}
              {p.pending_request_days == null ? <span className="muted">never expire</span> : `expire after ${p.pending_request_days} days unasked for`}
            </li>
            <li>
              Orphaned clients:{" "}
              {p.orphan_grace_days == null ? <span className="muted">connections left as they are</span> : `connections suspended ${p.orphan_grace_days} days after the last owner left`}
            </li>
            <li>
              Approval lifetimes: {lifetimes(p) ?? <span className="muted">until revoked</span>}
              {"; "}
              {p.attestation_days == null ? <span className="muted">owners not asked to attest</span> : `owners asked to attest ${p.attestation_days} days before expiry`}
            </li>
          </ul>
          {admin && (
            <div>
              <button className="secondary small" disabled={!online || busy} data-testid="policy-edit" onClick={() => setEditing(formOf(p))}>
                Edit…
              </button>{" "}
              <button className="secondary small" disabled={!online || busy} data-testid="policy-run" title="Evaluate the policies now instead of at the IdP's next minute" onClick={() => void runNow()}>
                Run now
              </button>
            </div>
          )}
        </>
      )}
    </div>
  );
}
