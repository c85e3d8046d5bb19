// The Reviews screen: access review campaigns with progress per reviewer; a
// campaign's items with their usage-based recommendation and its reason;
// keep / revoke / narrow in bulk (a reason where the decision goes against the
// recommendation), reassign with a note, the report as CSV or PDF; admins
// start campaigns and can apply the default action before the due date.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ipc, type CampaignView, type ItemState, type ReviewItemView, type SessionView } from "./ipc";
import { ago, toggled, type ScreenProps } from "./common";
import { Policies } from "./Policies";
import { Channels } from "./Channels";

type Decision = ReviewItemView["recommendation"];

export function Reviews({
  tick,
  online,
  report,
  notify,
  session,
  focus,
}: ScreenProps & { session: SessionView | null }) {
  const [campaigns, setCampaigns] = useState<CampaignView[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [items, setItems] = useState<ReviewItemView[]>([]);
  const [mine, setMine] = useState(true);
  const [state, setState] = useState<ItemState | "">("open");
  const [checked, setChecked] = useState<Set<string>>(new Set());
  const [reason, setReason] = useState("");
  const [keepScopes, setKeepScopes] = useState<Set<string>>(new Set());
  const [reassignTo, setReassignTo] = useState("");
  const [note, setNote] = useState("");
  const [form, setForm] = useState({ name: "", days: 14, defaultAction: "recommendation", reviewers: "", fallback: "", perUser: false, agent: "" });
  const admin = session?.roles.includes("admin") ?? false;

  const load = useCallback(async () => {
    try {
      const list = await ipc.campaigns();
      setCampaigns(list);
      setSelected((s) => s ?? list.find((c) => c.status === "active")?.id ?? list[0]?.id ?? null);
    } catch (e) {
      report(e);
    }
  }, [report]);

  useEffect(() => {
    const t = setTimeout(() => void load(), 0);
    return () => clearTimeout(t);
  }, [load, tick]);

  // A link to a campaign: selected once the list shows it; one that is not there says so.
  const linked = useRef(0);
  useEffect(() => {
    if (!focus || !campaigns.length || linked.current === focus.seq) return;
    const t = setTimeout(() => {
      linked.current = focus.seq;
      if (campaigns.some((c) => c.id === focus.id)) setSelected(focus.id);
      else report({ code: "not_found", message: "That review campaign does not exist (or is not visible to you)." });
    }, 0);
    return () => clearTimeout(t);
  }, [focus, campaigns, report]);

  const loadItems = useCallback(async () => {
    if (!selected) return;
    try {
      setItems((await ipc.reviewItems(selected, mine, state || undefined)).items);
    } catch (e) {
      report(e);
    }
  }, [selected, mine, state, report]);

  useEffect(() => {
    const t = setTimeout(() => void loadItems(), 0);
    return () => clearTimeout(t);
  }, [loadItems, tick]);

  const campaign = campaigns.find((c) => c.id === selected) ?? null;
  const picked = useMemo(() => items.filter((i) => checked.has(i.id)), [items, checked]);
  const single = picked.length === 1 ? picked[0] : null;
  const against = (d: Decision) => picked.some((i) => (d === "revoke") !== (i.recommendation === "revoke"));

  const decide = useCallback(
    async (decision: Decision) => {
      if (!selected || picked.length === 0) return;
      try {
        const body = {
          items: picked.map((i) => i.id),
          decision,
          reason: reason.trim() || null,
          scopes: decision === "modify" ? [...keepScopes] : null,
        };
        const r = await ipc.decideItems(selected, body);
        notify(`${r.length} item(s): ${r.map((i) => i.remediation).join(", ")}.`);
        setChecked(new Set());
        setReason("");
        await Promise.all([load(), loadItems()]);
      } catch (e) {
        report(e);
      }
    },
    [selected, picked, reason, keepScopes, notify, load, loadItems, report],
  );

  const reassign = useCallback(async () => {
    if (!selected || !single || !reassignTo.trim() || !note.trim()) return;
    try {
      const r = await ipc.reassignItem(selected, single.id, reassignTo.trim(), note.trim());
      notify(`Reassigned to ${r.reviewer}.`);
      setReassignTo("");
      setNote("");
      await Promise.all([load(), loadItems()]);
    } catch (e) {
      report(e);
    }
  }, [selected, single, reassignTo, note, notify, load, loadItems, report]);

  const create = useCallback(async () => {
    try {
      const now = Math.floor(Date.now() / 1000);
      const c = await ipc.createCampaign({
        name: form.name,
        // One AI client's connections, for its owners (an agent certification), or all.
        kind: form.agent.trim() ? "agent" : "access",
        scope: form.agent.trim() ? { client_id: form.agent.trim() } : {},
        reviewers: form.agent.trim() ? [] : form.reviewers.split(",").map((r) => r.trim()).filter(Boolean),
        fallback_reviewer: form.fallback || session?.subject || "",
        starts_at: null,
        per_user: form.perUser,
        due_at: now + form.days * 86400,
        default_action: form.defaultAction as CampaignView["default_action"],
      });
      notify(`Started “${c.name}” with ${c.items} items.`);
      setSelected(c.id);
      await load();
    } catch (e) {
      report(e);
    }
  }, [form, session, notify, load, report]);

  const exportAs = useCallback(
    async (format: "csv" | "pdf") => {
      if (!selected) return;
      try {
        const n = await ipc.exportReport(selected, format);
        if (n != null) notify(`Report saved (${Math.round(n / 1024)} KiB).`);
      } catch (e) {
        report(e);
      }
    },
    [selected, notify, report],
  );

  return (
    <main className="split reviews">
      <section className="queue">
        <div className="toolbar">
          <h1>Access reviews</h1>
        </div>
        <ul className="campaigns">
          {campaigns.map((c) => (
            <li
              key={c.id}
              className={c.id === selected ? "selected" : ""}
              onClick={() => {
                setSelected(c.id);
                setChecked(new Set());
              }}
              data-testid="campaign"
            >
              <strong>{c.name}</strong> {c.kind === "agent" && <span className="chip">agent · {c.scope.client_id}</span>}{" "}
              <span className={`status status-${c.status}`}>{c.status}</span>
              <div className="progress">
                <div style={{ width: `${c.items ? (100 * c.decided) / c.items : 0}%` }} />
              </div>
              <span className="muted">
                {c.decided}/{c.items} decided · due {new Date(c.due_at * 1000).toISOString().slice(0, 10)} · default{" "}
                {c.default_action}
              </span>
            </li>
          ))}
        </ul>
        <Policies tick={tick} online={online} report={report} notify={notify} admin={admin} />
        {admin && <Channels tick={tick} online={online} report={report} notify={notify} />}
        {admin && (
          <form
            className="new-campaign"
            onSubmit={(e) => {
              e.preventDefault();
              void create();
            }}
          >
            <h3>New campaign ({form.agent.trim() ? `every connection of ${form.agent.trim()}, for its owners` : "all live connections"})</h3>
            <input placeholder="Name" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
            <input
              placeholder="One AI client's id, for its owners to certify (empty: all connections)"
              data-testid="campaign-agent"
              value={form.agent}
              onChange={(e) => setForm({ ...form, agent: e.target.value })}
            />
            {!form.agent.trim() && (
              <input
                placeholder="Reviewers (comma-separated; empty: app owners)"
                value={form.reviewers}
                onChange={(e) => setForm({ ...form, reviewers: e.target.value })}
              />
            )}
            <input
              placeholder="Fallback reviewer"
              value={form.fallback}
              onChange={(e) => setForm({ ...form, fallback: e.target.value })}
            />
            <label>
              Due in{" "}
              <input
                type="number"
                min={1}
                value={form.days}
                onChange={(e) => setForm({ ...form, days: Number(e.target.value) })}
              />{" "}
              days; undecided items:{" "}
              <select value={form.defaultAction} onChange={(e) => setForm({ ...form, defaultAction: e.target.value })}>
                <option value="recommendation">follow the recommendation</option>
                <option value="keep">keep</option>
                <option value="revoke">revoke</option>
              </select>
            </label>
            <label>
              <input type="checkbox" checked={form.perUser} onChange={() => setForm({ ...form, perUser: !form.perUser })} /> One
              item per user of each connection (a revoke removes only that user)
            </label>
            <button type="submit" disabled={!online || !form.name.trim()}>
              Start campaign
            </button>
          </form>
        )}
      </section>
      <aside className="detail" data-testid="campaign-detail">
        {campaign ? (
          <>
            <h2>{campaign.name}</h2>
            <p className="muted">
              {campaign.status} · {campaign.decided}/{campaign.items} decided · created by {campaign.created_by}
            </p>
            <table className="progress-table">
              <tbody>
                {campaign.progress.map((p) => (
                  <tr key={p.reviewer}>
                    <td>{p.reviewer}</td>
                    <td>
                      <div className="progress">
                        <div style={{ width: `${p.items ? (100 * p.decided) / p.items : 0}%` }} />
                      </div>
                    </td>
                    <td>
                      {p.decided}/{p.items}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="actions">
              <label>
                <input type="checkbox" checked={mine} onChange={() => setMine((m) => !m)} /> Mine only
              </label>
              <select value={state} onChange={(e) => setState(e.target.value as ItemState | "")} aria-label="Items">
                <option value="open">Open</option>
                <option value="decided">Decided</option>
                <option value="">All</option>
              </select>
              <button className="secondary" onClick={() => void exportAs("csv")}>
                Report CSV
              </button>
              <button className="secondary" onClick={() => void exportAs("pdf")}>
                Report PDF
              </button>
              {admin && campaign.status === "active" && (
                <button className="secondary" onClick={() => void ipc.completeCampaign(campaign.id).then(load, report)}>
                  Apply defaults now
                </button>
              )}
            </div>
            <ul className="items">
              {items.map((i) => (
                <li key={i.id} data-testid="review-item" className={checked.has(i.id) ? "selected" : ""}>
                  <label>
                    <input
                      type="checkbox"
                      disabled={!!i.decision}
                      checked={checked.has(i.id)}
                      onChange={() => {
                        setKeepScopes(new Set(i.granted_scopes));
                        setChecked((s) => toggled(s, i.id));
                      }}
                    />{" "}
                    <strong>{i.client.name}</strong> → {i.resource_app.name}
                    {i.username ? <span className="for-user"> for {i.username}</span> : null}{" "}
                    <span className={`rec rec-${i.recommendation}`}>recommend {i.recommendation}</span>
                  </label>
                  <div className="muted">
                    {i.recommendation_reason} · last used {ago(i.last_used_at)} · {i.exchanges_90d} in 90 d · reviewer{" "}
                    {i.reviewer}
                    {i.reassign_note ? ` (“${i.reassign_note}”)` : ""}
                  </div>
                  <div className="muted">scopes: {i.granted_scopes.join(" ")}</div>
                  {i.decision && (
                    <div data-testid="item-decision">
                      {i.decision} by {i.decided_by}
                      {i.defaulted ? " (default)" : ""} → {i.remediation}
                      {i.reason ? ` — ${i.reason}` : ""}
                    </div>
                  )}
                </li>
              ))}
            </ul>
            {items.length === 0 && <p className="muted">Nothing here.</p>}
            {picked.length > 0 && (
              <div className="decide" data-testid="decide">
                <textarea
                  data-testid="review-reason"
                  placeholder={
                    against("keep") || against("revoke")
                      ? "Reason (required where you go against the recommendation)"
                      : "Reason (optional)"
                  }
                  value={reason}
                  onChange={(e) => setReason(e.target.value)}
                />
                <div className="actions">
                  <button data-testid="review-keep" disabled={!online || (against("keep") && !reason.trim())} onClick={() => void decide("keep")}>
                    Keep {picked.length}
                  </button>
                  <button
                    className="danger"
                    data-testid="review-revoke"
                    disabled={!online || (against("revoke") && !reason.trim())}
                    onClick={() => void decide("revoke")}
                  >
                    Revoke {picked.length}
                  </button>
                </div>
                {single && (
                  <>
                    <div className="scopes-pick">
                      {single.granted_scopes.map((s) => (
                        <label key={s}>
                          <input
                            type="checkbox"
                            checked={keepScopes.has(s)}
                            onChange={() =>
                              setKeepScopes((k) => toggled(k, s))
                            }
                          />{" "}
                          {s}
                        </label>
                      ))}
                      <button
                        className="secondary"
                        disabled={!online || keepScopes.size === 0 || keepScopes.size === single.granted_scopes.length}
                        onClick={() => void decide("modify")}
                      >
                        Keep only these
                      </button>
                    </div>
                    <div className="scopes-pick">
                      <input placeholder="Reassign to (user)" value={reassignTo} onChange={(e) => setReassignTo(e.target.value)} />
                      <input placeholder="Note" value={note} onChange={(e) => setNote(e.target.value)} />
                      <button className="secondary" disabled={!online || !reassignTo.trim() || !note.trim()} onClick={() => void reassign()}>
                        Reassign
                      </button>
                    </div>
                  </>
                )}
              </div>
            )}
          </>
        ) : (
          <p className="muted">No campaign yet.</p>
        )}
      </aside>
    </main>
  );
}
