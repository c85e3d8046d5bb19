// Lifecycle policies on the Reviews screen: what the IdP enforces over time
// on its own clock (idle connections warned, then suspended; pending requests
// expiring). Everyone sees them; an admin edits them at the version shown and
// can run them now instead of at the IdP's next minute.
import { useCallback, useEffect, useState } from "react";
import { ipc, type LifecyclePolicies, type PoliciesView } from "./ipc";
import type { ScreenProps } from "./common";

/** The form's text for an optional number of days ("" is off). */
const days = (v: number | null | undefined) => (v == null ? "" : String(v));
const parsed = (s: string): number | null => (s.trim() === "" ? null : Number(s));

export function Policies({ tick, online, report, notify, admin }: ScreenProps & { admin: boolean }) {
  const [view, setView] = useState<PoliciesView | null>(null);
  const [editing, setEditing] = useState<{ inactivity: string; warning: string; pending: string } | null>(null);
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
      notify(`Policies applied: ${r.requests_expired} requests expired, ${r.inactivity_warnings} owners warned, ${r.connections_suspended} connections suspended.`);
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
          </ul>
          {admin && (
            <div>
              <button className="secondary small" disabled={!online || busy} data-testid="policy-edit" onClick={() => setEditing({ inactivity: days(p.inactivity_days), warning: String(p.inactivity_warning_days ?? 7), pending: days(p.pending_request_days) })}>
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
