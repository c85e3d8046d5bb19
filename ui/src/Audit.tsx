// The Audit screen: query the hash-chained audit log (newest first), export it (CSV or JSON
// Lines, to a file the person picks in a native save dialog), and verify the
// chain, showing exactly where it breaks if it does.
import { useCallback, useEffect, useState } from "react";
import { ipc, type AuditEventView, type AuditOutcome, type ChainReport } from "./ipc";
import { chosen, when, type ScreenProps } from "./common";

const OUTCOMES: [AuditOutcome | "", string][] = [
  ["", "Any outcome"],
  ["success", "Success"],
  ["refused", "Refused"],
  ["throttled", "Throttled"],
  ["error", "Error"],
];

export function Audit({ tick, online, report, notify }: ScreenProps) {
  const [items, setItems] = useState<AuditEventView[]>([]);
  const [total, setTotal] = useState(0);
  const [kind, setKind] = useState("");
  const [actor, setActor] = useState("");
  const [subject, setSubject] = useState("");
  const [outcome, setOutcome] = useState<AuditOutcome | "">("");
  const [chain, setChain] = useState<ChainReport | null>(null);
  const [open, setOpen] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const page = await ipc.audit({
        kind: kind || null,
        actor: actor || null,
        subject: subject || null,
        outcome: outcome || null,
        order: "desc",
        limit: 500,
      });
      setItems(page.items);
      setTotal(page.total);
    } catch (e) {
      report(e);
    }
  }, [kind, actor, subject, outcome, report]);

  useEffect(() => {
    const t = setTimeout(() => void refresh(), 150);
    return () => clearTimeout(t);
  }, [refresh, tick]);

  const verify = useCallback(async () => {
    try {
      setChain(await ipc.verifyAudit());
    } catch (e) {
      report(e);
    }
  }, [report]);

  const exportAs = useCallback(
    async (format: "csv" | "jsonl") => {
      try {
        const r = await ipc.exportAudit(format);
        if (r) notify(`Exported ${r.events} events (${Math.round(r.bytes / 1024)} KiB) to ${r.path}.`);
      } catch (e) {
        report(e);
      }
    },
    [notify, report],
  );

  return (
    <main className="single">
      <section className="queue">
        <div className="toolbar">
          <h1>
            Audit <span className="count">{total}</span>
          </h1>
          <input placeholder="Kind (e.g. connection.revoked)" value={kind} onChange={(e) => setKind(e.target.value)} />
          <input placeholder="Actor" value={actor} onChange={(e) => setActor(e.target.value)} />
          <input placeholder="Subject" value={subject} onChange={(e) => setSubject(e.target.value)} />
          <select value={outcome} onChange={(e) => setOutcome(chosen(OUTCOMES, e.target.value, ""))} aria-label="Outcome">
            {OUTCOMES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
          <button className="secondary" onClick={() => void exportAs("csv")} disabled={!online}>
            Export CSV
          </button>
          <button className="secondary" onClick={() => void exportAs("jsonl")} disabled={!online}>
            Export JSONL
          </button>
          <button data-testid="verify" onClick={() => void verify()} disabled={!online}>
            Verify chain
          </button>
        </div>
        {chain && (
          <div className={`banner ${chain.ok ? "ok" : "error"}`} role="status" data-testid="chain">
            {chain.ok
              ? `Chain verified: ${chain.events} events, head ${chain.head.slice(0, 16)}…`
              : `Chain BROKEN at event #${chain.first_broken}: the log was altered after it was written.`}
          </div>
        )}
        <table className="audit">
          <thead>
            <tr>
              <th>#</th>
              <th>When (UTC)</th>
              <th>Kind</th>
              <th>Actor</th>
              <th>Client</th>
              <th>Subject</th>
              <th>Target</th>
              <th>Outcome</th>
              <th>Reason</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={e.id} onClick={() => setOpen(open === e.id ? null : e.id)} data-testid="audit-row">
                <td>{e.seq}</td>
                <td>{when(e.at_ms)}</td>
                <td>
                  <code>{e.kind}</code>
                </td>
                <td>{e.actor ?? ""}</td>
                <td>{e.client_id ?? ""}</td>
                <td>{e.subject ?? ""}</td>
                <td className="ellipsis">{e.target ?? ""}</td>
                <td className={`outcome-${e.outcome}`}>{e.outcome}</td>
                <td className="ellipsis">
                  {open === e.id ? <pre>{JSON.stringify(e.detail, null, 2)}</pre> : (e.reason ?? "")}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </main>
  );
}
