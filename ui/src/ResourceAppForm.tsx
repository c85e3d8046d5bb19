// Registering or editing a resource app (an MCP server's authorization
// server): its audience, the MCP servers it protects, where revocation events
// go, its owners, the client-id mapping, and the scope catalogue with each
// scope's risk and sensitivity. Editing sends the whole form at the version
// the person opened (a stale version is refused, never merged); raising a
// granted scope's risk puts its connections up for re-approval at the IdP,
// and the form says so before it is sent.
import { useState } from "react";
import type { ResourceAppView, Risk } from "./ipc";
import { RISK_ORDER } from "./common";

type Scope = ResourceAppView["scopes"][number];

/** What the form holds: lists as the person types them. */
export interface AppDraft {
  id: string;
  name: string;
  issuer: string;
  mcpServers: string;
  receivers: string;
  owners: string;
  /** `idp-client=as-client` pairs, one per line. */
  clientIds: string;
  scopes: Scope[];
}

export const EMPTY_APP: AppDraft = {
  id: "",
  name: "",
  issuer: "",
  mcpServers: "",
  receivers: "",
  owners: "",
  clientIds: "",
  scopes: [{ name: "", description: "", risk: "read", sensitive: false }],
};

export function draftOf(a: ResourceAppView): AppDraft {
  return {
    id: a.id,
    name: a.name,
    issuer: a.issuer,
    mcpServers: a.mcp_servers.join("\n"),
    receivers: a.receivers.join("\n"),
    owners: a.owners.join(", "),
    clientIds: Object.entries(a.client_ids ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
    scopes: a.scopes.map((s) => ({ ...s })),
  };
}

export const list = (s: string) =>
  s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);

/** The `idp-client=as-client` lines as a map; a line without `=` is an error. */
export function clientIdMap(s: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const line of s.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const [k, v, ...rest] = line.split("=").map((x) => x.trim());
    if (!k || !v || rest.length) return `"${line}" is not client-id=id-at-the-app`;
    out[k] = v;
  }
  return out;
}

/** The scopes whose risk rises or that become sensitive, against `before`. */
export function riskier(before: Scope[], after: Scope[]): string[] {
  const was = new Map(before.map((s) => [s.name, s]));
  return after
    .filter((s) => {
      const b = was.get(s.name);
      return b && (RISK_ORDER.indexOf(s.risk) > RISK_ORDER.indexOf(b.risk) || (s.sensitive && !b.sensitive));
    })
    .map((s) => s.name);
}

export function ResourceAppForm({
  initial,
  editing,
  busy,
  online,
  onSubmit,
  onCancel,
}: {
  initial: AppDraft;
  /** The app as it is now, when editing (the id and issuer cannot change). */
  editing: ResourceAppView | null;
  busy: boolean;
  online: boolean;
  onSubmit: (d: AppDraft) => void;
  onCancel: () => void;
}) {
  const [d, setD] = useState<AppDraft>(initial);
  const setScope = (i: number, s: Partial<Scope>) =>
    setD({ ...d, scopes: d.scopes.map((x, j) => (j === i ? { ...x, ...s } : x)) });
  const mapping = clientIdMap(d.clientIds);
  const names = d.scopes.map((s) => s.name.trim());
  const duplicate = names.find((n, i) => n && names.indexOf(n) !== i);
  const problem =
    typeof mapping === "string"
      ? mapping
      : duplicate
        ? `the scope ${duplicate} is listed twice`
        : names.some((n) => !n)
          ? "every scope needs a name"
          : null;
  const reapproval = editing ? riskier(editing.scopes, d.scopes) : [];
  return (
    <form
      className="register"
      data-testid="app-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!problem) onSubmit(d);
      }}
    >
      <label>
        Id{" "}
        <input required disabled={!!editing} placeholder="a-z 0-9 -, never reused" value={d.id} data-testid="app-id" onChange={(e) => setD({ ...d, id: e.target.value })} />
      </label>
      <label>
        Name <input required value={d.name} data-testid="app-name" onChange={(e) => setD({ ...d, name: e.target.value })} />
      </label>
      <label>
        Authorization server{" "}
        <input required disabled={!!editing} placeholder="https://as.example.com (the exchange's audience)" value={d.issuer} data-testid="app-issuer" onChange={(e) => setD({ ...d, issuer: e.target.value })} />
      </label>
      <label>
        MCP servers{" "}
        <textarea required rows={2} placeholder="https://mcp.example.com/mcp, one per line" value={d.mcpServers} data-testid="app-mcp" onChange={(e) => setD({ ...d, mcpServers: e.target.value })} />
      </label>
      <label>
        Revocation receivers{" "}
        <textarea rows={2} placeholder="where revocation events are pushed, one per line" value={d.receivers} data-testid="app-receivers" onChange={(e) => setD({ ...d, receivers: e.target.value })} />
      </label>
      <label>
        Owners <input placeholder="usernames, comma separated" value={d.owners} data-testid="app-owners" onChange={(e) => setD({ ...d, owners: e.target.value })} />
      </label>
      <label>
        Client ids at the app{" "}
        <textarea rows={2} placeholder="gatehouse-client=its-id-at-the-app, one per line" value={d.clientIds} data-testid="app-client-ids" onChange={(e) => setD({ ...d, clientIds: e.target.value })} />
      </label>
      <table className="scope-editor" data-testid="scope-editor">
        <thead>
          <tr><th>Scope</th><th>Description</th><th>Risk</th><th title="Two approvers and MFA">Sensitive</th><th></th></tr>
        </thead>
        <tbody>
          {d.scopes.map((s, i) => {
            const kept = editing?.scopes.some((x) => x.name === s.name) ?? false;
            return (
              <tr key={i} data-testid="scope-row" data-scope={s.name}>
                <td>
                  <input required value={s.name} disabled={kept} aria-label="Scope name" data-testid="scope-name" onChange={(e) => setScope(i, { name: e.target.value })} />
                </td>
                <td>
                  <input value={s.description} aria-label="Scope description" data-testid="scope-description" onChange={(e) => setScope(i, { description: e.target.value })} />
                </td>
                <td>
                  <select value={s.risk} aria-label="Scope risk" data-testid="scope-risk" onChange={(e) => setScope(i, { risk: e.target.value as Risk })}>
                    {RISK_ORDER.map((r) => (
                      <option key={r} value={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <input type="checkbox" checked={s.sensitive} aria-label="Sensitive" data-testid="scope-sensitive" onChange={(e) => setScope(i, { sensitive: e.target.checked })} />
                </td>
                <td>
                  <button type="button" className="secondary small" disabled={d.scopes.length === 1} title={kept ? "The IdP refuses to drop a scope a live connection grants" : "Remove"} onClick={() => setD({ ...d, scopes: d.scopes.filter((_, j) => j !== i) })}>
                    Remove
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <div>
        <button type="button" className="secondary small" data-testid="scope-add" onClick={() => setD({ ...d, scopes: [...d.scopes, { name: "", description: "", risk: "read", sensitive: false }] })}>
          Add a scope
        </button>
      </div>
      {problem && <p className="banner warn" data-testid="app-form-problem">{problem}</p>}
      {reapproval.length > 0 && (
        <p className="banner warn" data-testid="app-form-reapproval">
          {reapproval.join(", ")} become{reapproval.length === 1 ? "s" : ""} riskier: every live connection granting{" "}
          {reapproval.length === 1 ? "it" : "them"} goes to the Pending queue for re-approval (it keeps working until an approver decides).
        </p>
      )}
      <div>
        <button type="submit" data-testid="app-submit" disabled={!online || busy || !!problem}>
          {editing ? "Save the changes" : "Register the app"}
        </button>{" "}
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}
