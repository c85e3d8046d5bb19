// The whole picture: a relationship map (AI clients on the left, resource apps
// on the right; an edge per live connection, its width the ID-JAGs issued over
// 30 days, its colour the highest risk granted; click an edge for its detail)
// and three charts — the pending queue by age, decisions per day over two
// weeks, ID-JAG issuance per hour and client over the last day. Plain SVG.
// Orphaned clients (no active owner left) are flagged in red. Below, the
// least-privilege findings (see Findings.tsx).
import { useEffect, useMemo, useState } from "react";
import { ipc, type ConnectionView, type OverviewView, type Risk } from "./ipc";
import { ago, RiskBadge, type ScreenProps } from "./common";
import { Findings } from "./Findings";

const RISK_COLOUR: Record<Risk, string> = {
  read: "#2f9e57",
  write: "#c99a06",
  destructive: "#d0452f",
  admin: "#7b3fbf",
};
const SERIES = ["#1f4fd1", "#d0452f", "#2f9e57", "#c99a06", "#7b3fbf", "#0e8a9a", "#8a5a2b", "#5b6478"];

function Bars({ data, label, testid }: { data: { label: string; values: number[] }[]; label: string; testid: string }) {
  const max = Math.max(1, ...data.map((d) => d.values.reduce((a, b) => a + b, 0)));
  const w = 360;
  const h = 140;
  const bw = w / Math.max(1, data.length);
  return (
    <figure className="chart" data-testid={testid}>
      <figcaption>{label}</figcaption>
      <svg viewBox={`0 0 ${w} ${h + 28}`} role="img" aria-label={label}>
        {data.map((d, i) => {
          let y = h;
          return (
            <g key={d.label}>
              {d.values.map((v, k) => {
                const bh = (v / max) * (h - 10);
                y -= bh;
                return <rect key={k} x={i * bw + 2} y={y} width={bw - 4} height={bh} fill={SERIES[k % SERIES.length]} />;
              })}
              <text x={i * bw + bw / 2} y={h + 12} textAnchor="middle" fontSize="8">
                {d.label}
              </text>
              <text x={i * bw + bw / 2} y={h + 24} textAnchor="middle" fontSize="8" fill="#5b6478">
                {d.values.reduce((a, b) => a + b, 0) || ""}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export function Overview(props: ScreenProps) {
  const { tick, report } = props;
  const [data, setData] = useState<OverviewView | null>(null);
  const [edge, setEdge] = useState<ConnectionView | null>(null);
  // When the data was fetched: the issuance timeline ends at that hour.
  const [loadedAt, setLoadedAt] = useState(0);

  useEffect(() => {
    let stale = false;
    const t = setTimeout(() => {
      ipc.overview().then(
        (d) => {
          if (stale) return;
          setData(d);
          setLoadedAt(Date.now());
        },
        (e) => report(e),
      );
    }, 0);
    return () => {
      stale = true;
      clearTimeout(t);
    };
  }, [tick, report]);

  const layout = useMemo(() => {
    if (!data) return null;
    const clients = [...new Set(data.connections.map((c) => c.client.client_id))].sort();
    const apps = [...new Set(data.connections.map((c) => c.resource_app.id))].sort();
    const usage = new Map(data.stats.usage.map((u) => [`${u.client_id} ${u.resource_app}`, u.exchanges_30d]));
    const max = Math.max(1, ...data.stats.usage.map((u) => u.exchanges_30d));
    // Rows closer together when there are many (a tenant's dozens of clients).
    const rows = Math.max(clients.length, apps.length);
    const height = rows * (rows > 8 ? 24 : 44) + 20;
    const y = (i: number, n: number) => 20 + ((i + 0.5) * (height - 20)) / n;
    const name = (id: string) => data.clients.find((c) => c.client_id === id)?.name ?? id;
    const appName = (id: string) => data.apps.find((a) => a.id === id)?.name ?? id;
    return { clients, apps, usage, max, height, y, name, appName };
  }, [data]);

  if (!data || !layout) return <main className="single"><p className="muted">Loading…</p></main>;
  const { clients, apps, usage, max, height, y, name, appName } = layout;
  const orphaned = new Set(data.clients.filter((c) => c.orphaned).map((c) => c.client_id));

  const days = data.stats.decisions.map((d) => ({
    label: new Date(d.day_ms).toISOString().slice(5, 10),
    values: [d.approved, d.denied],
  }));
  const issuingClients = [...new Set(data.stats.issuance.map((b) => b.client_id))].sort();
  // A 24-hour timeline, empty hours included.
  const thisHour = Math.floor(loadedAt / 3600000) * 3600000;
  const hours = Array.from({ length: 24 }, (_, i) => thisHour - (23 - i) * 3600000);
  const issuance = hours.map((h) => ({
    label: new Date(h).toISOString().slice(11, 13) + "h",
    values: issuingClients.map((c) => data.stats.issuance.find((b) => b.hour_ms === h && b.client_id === c)?.count ?? 0),
  }));

  return (
    <main className="single overview">
      <section className="queue">
        <div className="toolbar">
          <h1>Who connects to what</h1>
          <span className="muted">
            {data.connections.length} live connections · edge width: ID-JAGs in 30 days · colour: highest risk granted
          </span>
          {orphaned.size > 0 && (
            <span className="badge severity-high" data-testid="map-orphaned-count" title="AI clients with no active owner left">
              {orphaned.size} orphaned
            </span>
          )}
        </div>
        <div className="map-row">
          <svg className="map" viewBox={`0 0 760 ${height}`} data-testid="relationship-map">
            {data.connections.map((c) => {
              const n = usage.get(`${c.client.client_id} ${c.resource_app.id}`) ?? 0;
              const y1 = y(clients.indexOf(c.client.client_id), clients.length);
              const y2 = y(apps.indexOf(c.resource_app.id), apps.length);
              return (
                <path
                  key={c.id}
                  data-testid="map-edge"
                  d={`M 200 ${y1} C 380 ${y1}, 380 ${y2}, 560 ${y2}`}
                  stroke={c.highest_risk ? RISK_COLOUR[c.highest_risk] : "#8a93a8"}
                  strokeWidth={1.5 + (8 * n) / max}
                  strokeOpacity={edge?.id === c.id ? 1 : 0.65}
                  fill="none"
                  className="edge"
                  onClick={() => setEdge(c)}
                >
                  <title>
                    {c.client.name} → {c.resource_app.name}: {n} ID-JAGs in 30 days
                  </title>
                </path>
              );
            })}
            {clients.map((id, i) => {
              const orphan = orphaned.has(id);
              return (
                <g key={id} data-testid={orphan ? "map-orphaned" : undefined}>
                  <circle cx={200} cy={y(i, clients.length)} r={6} fill={orphan ? "#d0452f" : "#16213e"} />
                  <text x={190} y={y(i, clients.length) + 4} textAnchor="end" fontSize="12" fill={orphan ? "#a1261a" : undefined}>
                    {orphan ? "⚠ " : ""}
                    {name(id)}
                    {orphan ? " (no owner)" : ""}
                  </text>
                </g>
              );
            })}
            {apps.map((id, i) => (
              <g key={id}>
                <rect x={554} y={y(i, apps.length) - 6} width={12} height={12} fill="#1f4fd1" />
                <text x={574} y={y(i, apps.length) + 4} fontSize="12">
                  {appName(id)}
                </text>
              </g>
            ))}
          </svg>
          <aside className="edge-detail" data-testid="edge-detail">
            {edge ? (
              <>
                <h3>
                  {edge.client.name} → {edge.resource_app.name}
                </h3>
                <p>
                  <RiskBadge risk={edge.highest_risk} /> · {edge.granted_scopes.map((s) => s.name).join(" ")}
                </p>
                <p className="muted">
                  {usage.get(`${edge.client.client_id} ${edge.resource_app.id}`) ?? 0} ID-JAGs in 30 days · last used{" "}
                  {ago(edge.last_used_at)} · approved by {edge.approved_by.join(", ") || "configuration"} · groups{" "}
                  {edge.allowed_groups.join(", ") || "anyone"}
                </p>
              </>
            ) : (
              <p className="muted">Click an edge for its connection.</p>
            )}
          </aside>
        </div>
        <div className="charts">
          <Bars
            testid="chart-pending-age"
            label="Pending requests by age"
            data={data.stats.pending_by_age.map((b) => ({ label: b.label, values: [b.count] }))}
          />
          <Bars testid="chart-decisions" label="Decisions per day (approved, denied)" data={days} />
          <Bars
            testid="chart-issuance"
            label={`ID-JAGs per hour by client (${issuingClients.join(", ") || "none yet"})`}
            data={issuance}
          />
        </div>
        <Findings {...props} />
      </section>
    </main>
  );
}
