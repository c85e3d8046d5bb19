// Notification channels, under the lifecycle policies on the Reviews screen
// (admins): where the IdP tells approvers about new requests, second
// approvals, reviews, orphaned clients and policy warnings. A webhook's
// signing secret goes to a file the person chooses; the page never holds it.
// Each channel shows its newest deliveries and their receipts.
import { useCallback, useEffect, useState } from "react";
import { ipc, type ChannelView, type DeliveryView, type NotificationKind } from "./ipc";
import { ago, type ScreenProps } from "./common";

const KINDS: { kind: NotificationKind; label: string }[] = [
  { kind: "request.pending", label: "new requests" },
  { kind: "request.awaiting_second_approval", label: "second approvals" },
  { kind: "review.items_due", label: "reviews" },
  { kind: "client.orphaned", label: "orphaned clients" },
  { kind: "client.owner_changed", label: "owner changes" },
  { kind: "policy.warning", label: "policy warnings" },
];

export function Channels({ tick, online, report, notify }: ScreenProps) {
  const [channels, setChannels] = useState<ChannelView[]>([]);
  const [adding, setAdding] = useState<{ name: string; kind: "webhook" | "slack"; url: string; events: NotificationKind[] } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [deliveries, setDeliveries] = useState<DeliveryView[]>([]);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setChannels(await ipc.notificationChannels());
    } catch (e) {
      report(e);
    }
  }, [report]);
  useEffect(() => {
    const t = setTimeout(() => void load(), 0);
    return () => clearTimeout(t);
  }, [load, tick]);
  // While a channel's deliveries are open they refresh every two seconds:
  // retries and receipts show as they happen.
  useEffect(() => {
    if (!open) return;
    const fetch = () => void ipc.notificationDeliveries(open).then(setDeliveries, report);
    const first = setTimeout(fetch, 0);
    const every = setInterval(fetch, 2000);
    return () => {
      clearTimeout(first);
      clearInterval(every);
    };
  }, [open, tick, report]);

  const act = async (f: () => Promise<string | null>) => {
    setBusy(true);
    try {
      const msg = await f();
      if (msg) notify(msg);
      await load();
    } catch (e) {
      report(e);
    } finally {
      setBusy(false);
    }
  };
  const add = () =>
    act(async () => {
      if (!adding) return null;
      const saved = await ipc.createNotificationChannel({ name: adding.name.trim(), kind: adding.kind, url: adding.url.trim(), events: adding.events });
      if (!saved) return null;
      setAdding(null);
      return saved.saved_to
        ? `Added ${saved.channel.name}; its signing secret was saved to ${saved.saved_to}.`
        : `Added ${saved.channel.name}.`;
    });

  return (
    <div className="policies" data-testid="channels">
      <h2>Notification channels</h2>
      {channels.length === 0 && <p className="muted small">No channel: approvers are told only by the console's desktop notifications.</p>}
      <ul>
        {channels.map((c) => (
          <li key={c.id} data-testid="channel">
            <strong>{c.name}</strong> <span className="muted small">{c.kind} · {c.url} · {c.events.length ? c.events.join(", ") : "everything"}</span>{" "}
            <button className="secondary small" data-testid="channel-deliveries" onClick={() => setOpen(open === c.id ? null : c.id)}>{open === c.id ? "Hide deliveries" : "Deliveries"}</button>{" "}
            <button className="secondary small" disabled={!online || busy} data-testid="channel-delete" onClick={() => void act(async () => { await ipc.deleteNotificationChannel(c.id); return `Deleted ${c.name}.`; })}>Delete</button>
            {open === c.id && (
              <table className="small" data-testid="deliveries">
                <tbody>
                  {deliveries.length === 0 && <tr><td className="muted">Nothing delivered yet.</td></tr>}
                  {deliveries.slice(0, 8).map((d) => (
                    <tr key={d.id}>
                      <td>{d.event}</td>
                      <td className={d.status === "delivered" ? "" : "muted"}>{d.status}{d.attempts > 1 ? ` after ${d.attempts} tries` : ""}</td>
                      <td className="muted">{d.last_status ? `HTTP ${d.last_status}` : d.last_error ?? ""}</td>
                      <td className="muted">{ago(Math.floor(d.created_at_ms / 1000))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </li>
        ))}
      </ul>
      {adding ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void add();
          }}
        >
          <label>
            Name <input required value={adding.name} data-testid="channel-name" onChange={(e) => setAdding({ ...adding, name: e.target.value })} />
          </label>
          <label>
            Kind{" "}
            <select value={adding.kind} data-testid="channel-kind" onChange={(e) => setAdding({ ...adding, kind: e.target.value as "webhook" | "slack" })}>
              <option value="webhook">Signed webhook (JSON)</option>
              <option value="slack">Slack incoming webhook</option>
            </select>
          </label>
          <label>
            URL <input required placeholder="https://…" value={adding.url} data-testid="channel-url" onChange={(e) => setAdding({ ...adding, url: e.target.value })} />
          </label>
          <div className="small">
            {KINDS.map((k) => (
              <label key={k.kind} style={{ display: "inline-block", marginRight: ".8rem" }}>
                <input
                  type="checkbox"
                  checked={adding.events.includes(k.kind)}
                  onChange={(e) => setAdding({ ...adding, events: e.target.checked ? [...adding.events, k.kind] : adding.events.filter((x) => x !== k.kind) })}
                />{" "}
                {k.label}
              </label>
            ))}
            <span className="muted">(none ticked: everything)</span>
          </div>
          <div>
            <button type="submit" disabled={!online || busy} data-testid="channel-save">{adding.kind === "webhook" ? "Add and save the secret…" : "Add"}</button>{" "}
            <button type="button" className="secondary" onClick={() => setAdding(null)}>Cancel</button>
          </div>
        </form>
      ) : (
        <button className="secondary small" disabled={!online || busy} data-testid="channel-add" onClick={() => setAdding({ name: "", kind: "webhook", url: "", events: [] })}>
          Add a channel…
        </button>
      )}
    </div>
  );
}
