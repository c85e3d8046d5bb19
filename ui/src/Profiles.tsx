// The Profiles screen: IdPs by issuer URL (discovery checked, and what it said
// shown), sign-in through the system browser or with an admin API token pasted
// once (it goes to the OS keychain and is cleared from the form), sign-out.
import { useCallback, useEffect, useState } from "react";
import { ipc, type ProfileAdded, type ProfileView } from "./ipc";
import type { ScreenProps } from "./common";

export function Profiles({ tick, report, notify }: ScreenProps) {
  const [list, setList] = useState<ProfileView[]>([]);
  const [name, setName] = useState("");
  const [issuer, setIssuer] = useState("");
  const [clientId, setClientId] = useState("gatehouse-console");
  const [added, setAdded] = useState<ProfileAdded | null>(null);
  const [tokenFor, setTokenFor] = useState<string | null>(null);
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);

  const refresh = useCallback(async () => {
    try {
      setList(await ipc.profiles());
    } catch (e) {
      report(e);
    }
  }, [report]);

  useEffect(() => {
    const t = setTimeout(() => void refresh(), 0);
    return () => clearTimeout(t);
  }, [refresh, tick]);

  const run = useCallback(
    async (f: () => Promise<unknown>, done: string) => {
      setBusy(true);
      try {
        await f();
        notify(done);
        await refresh();
      } catch (e) {
        report(e);
      } finally {
        setBusy(false);
      }
    },
    [notify, refresh, report],
  );

  return (
    <main className="single">
      <section className="queue">
        <div className="toolbar">
          <h1>IdP profiles</h1>
        </div>
        <table data-testid="profiles">
          <thead>
            <tr>
              <th>Name</th>
              <th>Issuer</th>
              <th>Client id</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {list.map(({ profile, saved, active }) => (
              <tr key={profile.id}>
                <td>
                  {profile.name} {active && <span className="status status-active">signed in</span>}{" "}
                  {!saved && <span className="muted">(this session only)</span>}
                </td>
                <td>
                  <code>{profile.issuer}</code>
                </td>
                <td>
                  <code>{profile.client_id}</code>
                </td>
                <td className="row-actions">
                  {active ? (
                    <button className="secondary" data-testid="sign-out" disabled={busy} onClick={() => void run(() => ipc.signOut(), "Signed out; the keychain entry is deleted.")}>
                      Sign out
                    </button>
                  ) : (
                    <>
                      <button disabled={busy} onClick={() => void run(() => ipc.signInBrowser(profile.id), `Signed in to ${profile.name}.`)}>
                        Sign in with browser
                      </button>
                      <button className="secondary" disabled={busy} onClick={() => setTokenFor(profile.id)}>
                        Use an API token
                      </button>
                      {saved && (
                        <button className="secondary" disabled={busy} onClick={() => void run(() => ipc.removeProfile(profile.id), `Removed ${profile.name}.`)}>
                          Remove
                        </button>
                      )}
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {tokenFor && (
          <form
            className="deny"
            onSubmit={(e) => {
              e.preventDefault();
              const t = token;
              setToken("");
              setTokenFor(null);
              void run(() => ipc.signInApiToken(tokenFor, t), "Signed in with the API token; it is kept in the OS keychain.");
            }}
          >
            <input
              type="password"
              autoFocus
              autoComplete="off"
              placeholder="gh_adm_… (kept in the OS keychain, never shown again)"
              value={token}
              onChange={(e) => setToken(e.target.value)}
            />
            <button type="submit" disabled={!token.trim() || busy}>
              Sign in
            </button>
          </form>
        )}
        <h3>Add an IdP</h3>
        <form
          className="grant"
          onSubmit={(e) => {
            e.preventDefault();
            setBusy(true);
            ipc
              .addProfile(name, issuer, clientId)
              .then(async (a) => {
                setAdded(a);
                setName("");
                setIssuer("");
                await refresh();
              }, report)
              .finally(() => setBusy(false));
          }}
        >
          <input placeholder="Name (e.g. Acme production)" value={name} onChange={(e) => setName(e.target.value)} />
          <input placeholder="Issuer URL (https://idp.example.com)" value={issuer} onChange={(e) => setIssuer(e.target.value)} />
          <input placeholder="Console client id" value={clientId} onChange={(e) => setClientId(e.target.value)} />
          <button type="submit" disabled={busy || !name.trim() || !issuer.trim()}>
            Check and add
          </button>
        </form>
        {added && (
          <div className="banner info" data-testid="discovery">
            <strong>{added.profile.name}</strong>: issuer <code>{added.discovery.issuer}</code> · token exchange for ID-JAGs{" "}
            {added.discovery.supports_xaa ? "✓" : "✗ (not advertised)"} · PKCE S256 {added.discovery.supports_pkce_s256 ? "✓" : "✗"} ·
            admin API <code>{added.discovery.admin_api}</code>
          </div>
        )}
      </section>
    </main>
  );
}
