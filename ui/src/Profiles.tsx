// The Profiles screen: IdPs by issuer URL (discovery checked, and what it said
// shown), sign-in through the system browser or with an admin API token pasted
// once (it goes to the OS keychain and is cleared from the form), sign-out; and
// the console's updates: the feed the signed-in profile names, what the last
// check found (a release is offered only once its signature verified), and the
// install, only when the person asks for it.
import { useCallback, useEffect, useState } from "react";
import { ipc, type ProfileAdded, type ProfileView, type UpdateStatus } from "./ipc";
import type { ScreenProps } from "./common";

function UpdateLine({ status }: { status: UpdateStatus | null }) {
  if (!status) return null;
  switch (status.state) {
    case "no_feed":
      return <p className="muted" data-testid="update-status">No update feed is set for this profile.</p>;
    case "up_to_date":
      return <p className="muted" data-testid="update-status">Gatehouse {status.current} is up to date.</p>;
    case "unreachable":
      return (
        <p className="muted" data-testid="update-status">
          The update feed could not be reached; Gatehouse checks again later.
        </p>
      );
    case "offered":
      return (
        <p data-testid="update-status">
          Gatehouse <strong>{status.version}</strong> is available (you have {status.current}); its signature is verified.
          {status.notes && <span className="muted"> {status.notes}</span>}
        </p>
      );
    case "refused":
      return (
        <p className="banner error" data-testid="update-status">
          {status.version ? `Gatehouse ${status.version}: ` : ""}
          {status.message}
        </p>
      );
    case "installed":
      return <p data-testid="update-status">Gatehouse {status.version} is installed; it runs from the next start.</p>;
  }
}

export function Profiles({ tick, report, notify }: ScreenProps) {
  const [list, setList] = useState<ProfileView[]>([]);
  const [name, setName] = useState("");
  const [issuer, setIssuer] = useState("");
  const [clientId, setClientId] = useState("gatehouse-console");
  const [added, setAdded] = useState<ProfileAdded | null>(null);
  const [tokenFor, setTokenFor] = useState<string | null>(null);
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [feed, setFeed] = useState<string | null>(null);
  const [update, setUpdate] = useState<UpdateStatus | null>(null);
  const activeProfile = list.find((p) => p.active)?.profile ?? null;

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

  // A quiet check when the screen opens: an unreachable feed is a line, not an alert.
  const activeFeed = activeProfile?.update_feed ?? null;
  useEffect(() => {
    if (!activeFeed) return;
    let live = true;
    ipc.checkUpdate().then(
      (s) => {
        if (live) setUpdate(s);
      },
      () => {},
    );
    return () => {
      live = false;
    };
  }, [activeFeed]);

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
        <h3>Updates</h3>
        {activeProfile ? (
          <form
            className="grant"
            data-testid="update-feed"
            onSubmit={(e) => {
              e.preventDefault();
              const value = (feed ?? activeProfile.update_feed ?? "").trim();
              void run(async () => {
                await ipc.setUpdateFeed(activeProfile.id, value || null);
                setFeed(null);
                setUpdate(await ipc.checkUpdate());
              }, value ? "Update feed saved and checked." : "Update feed cleared.");
            }}
          >
            <input
              className="wide"
              placeholder="Update feed (https://updates.example.com/gatehouse/latest.json)"
              value={feed ?? activeProfile.update_feed ?? ""}
              onChange={(e) => setFeed(e.target.value)}
            />
            <button type="submit" disabled={busy}>
              Save
            </button>
            <button
              type="button"
              className="secondary"
              data-testid="check-update"
              disabled={busy || !activeProfile.update_feed}
              onClick={() => void run(async () => setUpdate(await ipc.checkUpdate()), "Checked for updates.")}
            >
              Check now
            </button>
            {update?.state === "offered" && (
              <button
                type="button"
                data-testid="install-update"
                disabled={busy}
                onClick={() => void run(async () => setUpdate(await ipc.installUpdate()), `Gatehouse ${update.version} installed.`)}
              >
                Install {update.version}
              </button>
            )}
          </form>
        ) : (
          <p className="muted">Sign in to a profile to set where Gatehouse looks for its updates.</p>
        )}
        <UpdateLine status={update} />
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
