// Who and what the IdP knows: people (where each came from — SCIM provisioning,
// an upstream IdP, the IdP's config — and whether they are active), groups with
// their members and the admin roles they grant, the AI clients and the resource
// apps. People and groups change at the company's IdP (SCIM), and a deactivated
// person is refused at the next exchange; provisioning reaches the open screen
// through the change feed (`directory.updated`). An admin registers AI clients,
// rotates their secrets and retires them here: a new secret goes straight from
// the Rust side to a file the person picks, never to this page. Resource apps
// are registered, edited (the scope catalogue with risk and sensitivity) and
// retired here too. Retiring revokes live connections, which needs a recent
// second factor: the screen asks for it and then finishes what was asked.
import { useCallback, useEffect, useMemo, useState } from "react";
import { ipc, isConsoleError, type DirectoryView, type ResourceAppView } from "./ipc";
import type { ScreenProps } from "./common";
import { clientIdMap, draftOf, EMPTY_APP, list, ResourceAppForm, type AppDraft } from "./ResourceAppForm";

type Tab = "people" | "groups" | "clients" | "apps";
const SOURCE_LABEL: Record<string, string> = { config: "IdP config", scim: "SCIM", upstream: "Upstream IdP" };

function Source({ source }: { source?: string }) {
  const s = source ?? "config";
  return (
    <span className={`status source-${s}`} title={`Came from: ${SOURCE_LABEL[s] ?? s}`}>
      {SOURCE_LABEL[s] ?? s}
    </span>
  );
}

/** Registering or editing a client: what the form holds. */
interface NewClient {
  name: string;
  clientId: string;
  owners: string;
  sponsor: string;
  successors: string;
  redirects: string;
  /** The version being edited; absent when registering. */
  version?: number;
  /** The successors as they were when the edit began. */
  successorsWas?: string;
}
const EMPTY_CLIENT: NewClient = { name: "", clientId: "", owners: "", sponsor: "", successors: "", redirects: "" };
const clientDraft = (c: DirectoryView["clients"][number]): NewClient => ({
  name: c.name,
  clientId: c.client_id,
  owners: c.owners.join(", "),
  sponsor: c.sponsor ?? "",
  successors: (c.successors ?? []).join(", "),
  successorsWas: (c.successors ?? []).join(", "),
  redirects: (c.redirect_uris ?? []).join(" "),
  version: c.version ?? 0,
});
const OVERLAP = 86400;

/** What is being retired: a client or a resource app, at the version seen. */
interface Retiring {
  kind: "client" | "app";
  id: string;
  version: number;
  reason: string;
}

export function Directory({ tick, report, online, notify, focus }: ScreenProps) {
  const [data, setData] = useState<DirectoryView | null>(null);
  const [registering, setRegistering] = useState<NewClient | null>(null);
  const [retiring, setRetiring] = useState<Retiring | null>(null);
  // Registering (null app) or editing a resource app.
  const [appForm, setAppForm] = useState<{ app: ResourceAppView | null } | null>(null);
  // A retirement a step-up challenge interrupted, to finish after re-authenticating.
  const [stepUp, setStepUp] = useState<Retiring | null>(null);
  const [busy, setBusy] = useState(false);
  const [tab, setTab] = useState<Tab>("people");
  const [q, setQ] = useState("");
  const [orphanedOnly, setOrphanedOnly] = useState(false);
  // A link to a client (a notification's): its tab, filtered to it.
  useEffect(() => {
    if (!focus) return;
    const t = setTimeout(() => {
      setTab("clients");
      setQ(focus.id);
    }, 0);
    return () => clearTimeout(t);
  }, [focus]);

  const load = useCallback(async () => {
    try {
      setData(await ipc.directory());
    } catch (e) {
      report(e);
    }
  }, [report]);
  useEffect(() => {
    const t = setTimeout(() => void load(), 0);
    return () => clearTimeout(t);
  }, [load, tick]);

  const act = async (work: () => Promise<string | null>) => {
    setBusy(true);
    try {
      const said = await work();
      if (said) notify(said);
      await load();
    } catch (e) {
      report(e);
    } finally {
      setBusy(false);
    }
  };
  const register = (f: NewClient) =>
    act(async () => {
      if (f.version !== undefined) {
        const saved = await ipc.updateClient(f.clientId, f.version, {
          name: f.name.trim(),
          owners: list(f.owners),
          sponsor: f.sponsor.trim(),
          // Untouched, the IdP keeps them (less anyone just made an owner).
          successors: f.successors === f.successorsWas ? null : list(f.successors),
          redirect_uris: list(f.redirects),
          description: null,
          jwks: null,
          jwks_uri: null,
        });
        setRegistering(null);
        return `Saved ${saved.name} (${saved.client_id}).`;
      }
      const saved = await ipc.registerClient({
        client_id: f.clientId.trim() || null,
        name: f.name.trim(),
        description: null,
        owners: list(f.owners),
        sponsor: f.sponsor.trim() || null,
        successors: list(f.successors),
        redirect_uris: list(f.redirects),
      });
      if (!saved) return null;
      setRegistering(null);
      return `Registered ${saved.client.name} (${saved.client.client_id}); its credentials were saved to ${saved.saved_to}.`;
    });
  const rotate = (id: string, version: number) =>
    act(async () => {
      const saved = await ipc.rotateClientSecret(id, version, OVERLAP);
      return saved
        ? `New secret for ${id} saved to ${saved.saved_to}; the previous one works for one more day.`
        : null;
    });
  const retire = (r: Retiring) =>
    act(async () => {
      try {
        if (r.kind === "client") await ipc.retireClient(r.id, r.version, r.reason.trim());
        else await ipc.retireResourceApp(r.id, r.version, r.reason.trim());
      } catch (e) {
        if (isConsoleError(e) && e.code === "step_up_required") {
          setStepUp(r);
          return null;
        }
        throw e;
      }
      setRetiring(null);
      setStepUp(null);
      return r.kind === "client"
        ? `Retired ${r.id}: its connections are revoked and it is refused everywhere.`
        : `Retired ${r.id}: its connections are revoked and it is no audience any more.`;
    });
  // Re-authenticate with a second factor, then finish the retirement.
  const reauthenticate = async () => {
    const r = stepUp;
    try {
      await ipc.stepUp();
      setStepUp(null);
      if (r) await retire(r);
    } catch (e) {
      report(e);
    }
  };
  const saveApp = (d: AppDraft, was: ResourceAppView | null) =>
    act(async () => {
      const mapping = clientIdMap(d.clientIds);
      if (typeof mapping === "string") throw new Error(mapping);
      const lines = (s: string) => s.split("\n").map((x) => x.trim()).filter(Boolean);
      const scopes = d.scopes.map((s) => ({ ...s, name: s.name.trim(), description: s.description.trim() }));
      const common = {
        name: d.name.trim(),
        mcp_servers: lines(d.mcpServers),
        receivers: lines(d.receivers),
        owners: list(d.owners),
        client_ids: mapping,
        scopes,
      };
      const saved = was
        ? await ipc.updateResourceApp(was.id, was.version ?? 0, common)
        : await ipc.registerResourceApp({ ...common, id: d.id.trim(), issuer: d.issuer.trim() });
      setAppForm(null);
      return was ? `Saved ${saved.name}.` : `Registered ${saved.name}: ${saved.issuer} is an audience now.`;
    });

  const needle = q.trim().toLowerCase();
  const has = useCallback((...fields: (string | null | undefined)[]) => !needle || fields.some((f) => f?.toLowerCase().includes(needle)), [needle]);
  const people = useMemo(
    () => (data?.people ?? []).filter((p) => has(p.username, p.name, p.email, ...p.groups)),
    [data, has],
  );
  const groups = useMemo(() => (data?.groups ?? []).filter((g) => has(g.name, ...g.members)), [data, has]);
  const clients = useMemo(
    () => (data?.clients ?? []).filter((c) => (!orphanedOnly || c.orphaned) && has(c.name, c.client_id, ...c.owners)),
    [data, has, orphanedOnly],
  );
  const orphaned = (data?.clients ?? []).filter((c) => c.orphaned).length;
  const apps = useMemo(() => (data?.apps ?? []).filter((a) => has(a.name, a.id, a.issuer, ...a.mcp_servers)), [data, has]);
  const inactive = (data?.people ?? []).filter((p) => p.active === false).length;

  const tabs: [Tab, string, number][] = [
    ["people", "People", people.length],
    ["groups", "Groups", groups.length],
    ["clients", "AI clients", clients.length],
    ["apps", "Resource apps", apps.length],
  ];

  return (
    <main className="single">
      <section className="queue" data-testid="directory">
        <div className="toolbar">
          <h1>Directory</h1>
          <input placeholder="Filter by name, email, group, client, app" value={q} onChange={(e) => setQ(e.target.value)} aria-label="Filter the directory" />
          {inactive > 0 && <span className="status status-revoked" data-testid="deactivated-count">{inactive} deactivated</span>}
          {orphaned > 0 && (
            <span className="status status-suspended" data-testid="orphaned-count" title="AI clients with no active owner">
              {orphaned} orphaned
            </span>
          )}
        </div>
        <nav className="subtabs" role="tablist">
          {tabs.map(([t, label, n]) => (
            <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "tab-sub active" : "tab-sub"} onClick={() => setTab(t)} data-testid={`directory-tab-${t}`}>
              {label} <span className="count">{n}</span>
            </button>
          ))}
        </nav>
        {!data && <p className="muted">Loading…</p>}
        {data && tab === "people" && (
          <table data-testid="people">
            <thead>
              <tr><th>Username</th><th>Name</th><th>Email</th><th>Groups</th><th>Admin roles</th><th>From</th><th>MFA</th><th>Status</th></tr>
            </thead>
            <tbody>
              {people.map((p) => (
                <tr key={p.username} data-testid="person-row" data-username={p.username} data-active={String(p.active !== false)}>
                  <td>{p.username}</td>
                  <td>{p.name ?? ""}</td>
                  <td>{p.email ?? ""}</td>
                  <td className="ellipsis" title={p.groups.join(", ")}>{p.groups.join(", ")}</td>
                  <td>{p.roles.join(", ")}</td>
                  <td><Source source={p.source} /></td>
                  <td>{p.mfa_enrolled ? "enrolled" : <span className="muted">none</span>}</td>
                  <td>
                    {p.active === false ? (
                      <span className="status status-revoked" title="Deprovisioned: every exchange, refresh and sign-in is refused">Deactivated</span>
                    ) : p.blocked ? (
                      <span className="status status-suspended" title="The help desk cut this person off">Blocked</span>
                    ) : (
                      <span className="status status-active">Active</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data && tab === "groups" && (
          <table data-testid="groups">
            <thead>
              <tr><th>Group</th><th>Members</th><th>Admin roles</th><th>From</th></tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr key={g.name} data-testid="group-row">
                  <td>{g.name}</td>
                  <td className="ellipsis" title={g.members.join(", ")}>
                    {g.members.length} · {g.members.join(", ")}
                  </td>
                  <td>{g.roles.join(", ")}</td>
                  <td><Source source={g.source} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data && tab === "clients" && (
          <div className="toolbar">
            <label className="small">
              <input type="checkbox" checked={orphanedOnly} onChange={(e) => setOrphanedOnly(e.target.checked)} data-testid="orphaned-only" /> Orphaned only
            </label>
            <button data-testid="register-client" disabled={!online || busy} onClick={() => setRegistering(EMPTY_CLIENT)}>
              Register a client…
            </button>
          </div>
        )}
        {data && tab === "clients" && registering && (
          <form
            className="register"
            data-testid="register-form"
            onSubmit={(e) => {
              e.preventDefault();
              void register(registering);
            }}
          >
            <label>
              Name <input required value={registering.name} data-testid="new-client-name" onChange={(e) => setRegistering({ ...registering, name: e.target.value })} />
            </label>
            <label>
              Client id <input placeholder="generated when empty" disabled={registering.version !== undefined} value={registering.clientId} data-testid="new-client-id" onChange={(e) => setRegistering({ ...registering, clientId: e.target.value })} />
            </label>
            <label>
              Owners <input required placeholder="usernames, comma separated" value={registering.owners} data-testid="new-client-owners" onChange={(e) => setRegistering({ ...registering, owners: e.target.value })} />
            </label>
            <label>
              Sponsor <input placeholder="the accountable person (optional)" value={registering.sponsor} data-testid="new-client-sponsor" onChange={(e) => setRegistering({ ...registering, sponsor: e.target.value })} />
            </label>
            <label>
              Successors <input placeholder="in order, comma separated: who takes over when the owners leave" value={registering.successors} data-testid="new-client-successors" onChange={(e) => setRegistering({ ...registering, successors: e.target.value })} />
            </label>
            <label>
              Redirect URIs <input placeholder="https://…, space separated" value={registering.redirects} data-testid="new-client-redirects" onChange={(e) => setRegistering({ ...registering, redirects: e.target.value })} />
            </label>
            {registering.version === undefined && (
              <p className="muted small">A secret is generated and saved to a file you choose next; it is shown nowhere else, and the IdP keeps only its hash.</p>
            )}
            <div>
              <button type="submit" data-testid="register-submit" disabled={!online || busy}>
                {registering.version === undefined ? "Register and save the credentials…" : "Save the changes"}
              </button>{" "}
              <button type="button" className="secondary" onClick={() => setRegistering(null)}>Cancel</button>
            </div>
          </form>
        )}
        {data && retiring && (tab === "clients" ? retiring.kind === "client" : tab === "apps" && retiring.kind === "app") && (
          <form
            className="register"
            data-testid="retire-form"
            onSubmit={(e) => {
              e.preventDefault();
              void retire(retiring);
            }}
          >
            <p>
              Retire <code>{retiring.id}</code>:{" "}
              {retiring.kind === "client"
                ? "its live connections are revoked (every resource app is told) and it is refused everywhere."
                : "every live connection to it is revoked (it is told), and it is no audience any more."}{" "}
              Needs a recent sign-in with a second factor. Its id is never reused.
            </p>
            <label>
              Reason <input required value={retiring.reason} data-testid="retire-reason" onChange={(e) => setRetiring({ ...retiring, reason: e.target.value })} />
            </label>
            <div>
              <button type="submit" data-testid="retire-submit" disabled={!online || busy || !retiring.reason.trim()}>Retire</button>{" "}
              <button type="button" className="secondary" onClick={() => { setRetiring(null); setStepUp(null); }}>Cancel</button>
            </div>
            {stepUp && (
              <div className="banner warn" role="alert" data-testid="retire-step-up">
                Retiring revokes connections, which needs a fresh sign-in with a second factor.{" "}
                <button type="button" data-testid="retire-reauthenticate" onClick={() => void reauthenticate()}>Re-authenticate and retire</button>
              </div>
            )}
          </form>
        )}
        {data && tab === "clients" && (
          <table data-testid="clients">
            <thead>
              <tr><th>AI client</th><th>Client id</th><th>Owners</th><th>Sponsor · successors</th><th>Authenticates with</th><th>Connections</th><th>Pending</th><th></th></tr>
            </thead>
            <tbody>
              {clients.map((c) => (
                <tr key={c.client_id} data-testid="client-row" data-client-id={c.client_id} data-orphaned={String(c.orphaned ?? false)}>
                  <td>
                    {c.name}
                    {c.orphaned && (
                      <span className="status status-suspended" title="No owner is an active person: nobody is accountable for this client">
                        {" "}Orphaned
                      </span>
                    )}
                  </td>
                  <td><code>{c.client_id}</code></td>
                  <td>{c.owners.join(", ") || <span className="muted">none</span>}</td>
                  <td data-testid="client-succession">
                    {c.sponsor ?? <span className="muted">no sponsor</span>}
                    {(c.successors ?? []).length > 0 && <span className="muted small"> · then {(c.successors ?? []).join(", ")}</span>}
                  </td>
                  <td>{c.auth_method}</td>
                  <td>{c.connections}</td>
                  <td>{c.pending_requests}</td>
                  <td className="row-actions">
                    {c.auth_method !== "none" && (
                      <button className="secondary small" data-testid="edit-client" disabled={!online || busy} onClick={() => setRegistering(clientDraft(c))}>
                        Edit…
                      </button>
                    )}{" "}
                    {c.auth_method === "client_secret" && (
                      <button className="secondary small" data-testid="rotate-secret" disabled={!online || busy} title="A new secret, saved to a file; the previous one works for one more day" onClick={() => void rotate(c.client_id, c.version ?? 0)}>
                        Rotate secret
                      </button>
                    )}{" "}
                    {c.auth_method !== "none" && (
                      <button className="secondary small" data-testid="retire-client" disabled={!online || busy} onClick={() => setRetiring({ kind: "client", id: c.client_id, version: c.version ?? 0, reason: "" })}>
                        Retire…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data && tab === "apps" && (
          <div className="toolbar">
            <button data-testid="register-app" disabled={!online || busy} onClick={() => setAppForm({ app: null })}>
              Register a resource app…
            </button>
          </div>
        )}
        {data && tab === "apps" && appForm && (
          <ResourceAppForm
            key={appForm.app?.id ?? "new"}
            initial={appForm.app ? draftOf(appForm.app) : EMPTY_APP}
            editing={appForm.app}
            busy={busy}
            online={online}
            onSubmit={(d) => void saveApp(d, appForm.app)}
            onCancel={() => setAppForm(null)}
          />
        )}
        {data && tab === "apps" && (
          <table data-testid="apps">
            <thead>
              <tr><th>Resource app</th><th>Authorization server</th><th>MCP servers</th><th>Scopes</th><th>Revocation receivers</th><th>Owners</th><th></th></tr>
            </thead>
            <tbody>
              {apps.map((a) => (
                <tr key={a.id} data-testid="app-row" data-app-id={a.id}>
                  <td>{a.name}</td>
                  <td className="ellipsis" title={a.issuer}>{a.issuer}</td>
                  <td className="ellipsis" title={a.mcp_servers.join(", ")}>{a.mcp_servers.join(", ")}</td>
                  <td title={a.scopes.map((s) => `${s.name} (${s.risk}${s.sensitive ? ", sensitive" : ""})`).join(", ")}>{a.scopes.length}</td>
                  <td>{a.receivers.length}</td>
                  <td>{a.owners.join(", ")}</td>
                  <td className="row-actions">
                    <button className="secondary small" data-testid="edit-app" disabled={!online || busy} onClick={() => setAppForm({ app: a })}>
                      Edit…
                    </button>{" "}
                    <button className="secondary small" data-testid="retire-app" disabled={!online || busy} onClick={() => setRetiring({ kind: "app", id: a.id, version: a.version ?? 0, reason: "" })}>
                      Retire…
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="muted small">
          People and groups live in the IdP&apos;s database: provisioned over SCIM by the company&apos;s IdP, or seeded from the IdP&apos;s config at its first start.
          A deactivated person is refused at their next exchange, and every resource app is told. AI clients and resource apps live there too: registered here or
          through the admin API, or seeded from the config.
        </p>
      </section>
    </main>
  );
}
