// The console's shell: the session header, the screens (Pending, Connections,
// Audit), the IdP-unreachable banner (actions disabled, nothing shown as done
// that the IdP did not confirm), the idle lock, live updates from the IdP's
// change stream, the command palette (Ctrl+K) and the shortcut list (?). When
// the keychain is locked or absent the start-up sign-in cannot finish: the
// window says what is missing and offers a sign-in kept in memory, never a
// spinner; a session held in memory (demo mode, or that choice) is marked.
// A gatehouse:// link (a second launch, the OS, a notification click) opens its
// screen at its id; a malformed one is a message and nothing else.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { listen } from "@tauri-apps/api/event";
import { ipc, isConsoleError, type ConsoleError, type IdpStatus, type LinkScreen, type SessionView } from "./ipc";
import { errorText, inField, type Focus } from "./common";
import { Pending } from "./Pending";
import { Connections } from "./Connections";
import { Audit } from "./Audit";
import { Profiles } from "./Profiles";
import { Reviews } from "./Reviews";
import { Helpdesk } from "./Helpdesk";
import { Overview } from "./Overview";
import { Directory } from "./Directory";

type Screen = "pending" | "connections" | "audit" | "profiles" | "reviews" | "helpdesk" | "overview" | "directory";
const SCREENS: [Screen, string, string][] = [
  ["pending", "Pending", "1"],
  ["connections", "Connections", "2"],
  ["audit", "Audit", "3"],
  ["profiles", "Profiles", "4"],
  ["reviews", "Reviews", "5"],
  ["helpdesk", "Help desk", "6"],
  ["overview", "Overview", "7"],
  ["directory", "Directory", "8"],
];

const LINK_SCREENS: Record<LinkScreen, Screen> = {
  requests: "pending",
  connections: "connections",
  reviews: "reviews",
  clients: "directory",
};

interface Command {
  label: string;
  keys: string;
  run: () => void;
}

export function App() {
  const [session, setSession] = useState<SessionView | null>(null);
  const [screen, setScreen] = useState<Screen>("pending");
  const [focus, setFocus] = useState<(Focus & { screen: Screen }) | null>(null);
  const [tick, setTick] = useState(0);
  const [status, setStatus] = useState<IdpStatus>({ reachable: true, message: null });
  const [error, setError] = useState<string | null>(null);
  const [keychain, setKeychain] = useState<ConsoleError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [locked, setLocked] = useState(false);
  const [help, setHelp] = useState(false);
  const [palette, setPalette] = useState(false);
  const [filter, setFilter] = useState("");
  const [cursor, setCursor] = useState(0);
  const paletteInput = useRef<HTMLInputElement>(null);

  const report = useCallback((e: unknown) => {
    // Before the first sign-in completes there is nothing to show yet, not an error.
    if (isConsoleError(e) && e.code === "not_signed_in") setSession(null);
    else if (isConsoleError(e) && e.code === "locked") setLocked(true);
    else if (isConsoleError(e) && e.code === "idp_unreachable") setStatus({ reachable: false, message: e.message });
    else if (isConsoleError(e) && e.code === "keychain_unavailable") setKeychain(e);
    else setError(errorText(e));
  }, []);
  const notify = useCallback((m: string) => {
    setError(null);
    setNotice(m);
  }, []);

  const takeLink = useCallback(async () => {
    try {
      const link = await ipc.openedLink();
      if (!link) return;
      if (link.kind === "refused") {
        setNotice(null);
        setError(link.message);
        return;
      }
      const to = LINK_SCREENS[link.screen];
      setScreen(to);
      setFocus((f) => ({ screen: to, id: link.id, seq: (f?.seq ?? 0) + 1 }));
    } catch (e) {
      report(e);
    }
  }, [report]);

  const loadSession = useCallback(async () => {
    try {
      const current = await ipc.session();
      setSession(current);
      setStatus(await ipc.idpStatus());
      // The start-up sign-in may have failed before this window listened.
      const problem = current ? null : await ipc.startUpProblem();
      if (problem) report(problem);
    } catch (e) {
      report(e);
    }
  }, [report]);

  useEffect(() => {
    const first = setTimeout(() => {
      void loadSession();
      void takeLink();
    }, 0);
    const subs = [
      listen("link-opened", () => void takeLink()),
      listen("session-changed", () => {
        setError(null);
        setKeychain(null);
        void loadSession();
        setTick((t) => t + 1);
      }),
      listen<unknown>("console-error", (ev) => report(ev.payload)),
      listen("changes", () => setTick((t) => t + 1)),
      listen<IdpStatus>("idp-status", (ev) => {
        setStatus(ev.payload);
        if (ev.payload.reachable) setTick((t) => t + 1);
      }),
    ];
    return () => {
      clearTimeout(first);
      subs.forEach((s) => void s.then((f) => f()));
    };
  }, [loadSession, takeLink, report]);

  const lockNow = useCallback(async () => {
    await ipc.lock().catch(report);
    setLocked(true);
  }, [report]);

  const unlock = useCallback(async () => {
    try {
      await ipc.unlock();
      setLocked(false);
      setError(null);
      setTick((t) => t + 1);
    } catch (e) {
      setError(errorText(e));
    }
  }, []);

  const commands: Command[] = useMemo(
    () => [
      ...SCREENS.map(([s, label, key]) => ({ label: `Go to ${label}`, keys: key, run: () => setScreen(s) })),
      { label: "Refresh", keys: "R", run: () => setTick((t) => t + 1) },
      { label: "Lock Gatehouse", keys: "Ctrl+L", run: () => void lockNow() },
      { label: "Keyboard shortcuts", keys: "?", run: () => setHelp(true) },
    ],
    [lockNow],
  );
  const matches = commands.filter((c) => c.label.toLowerCase().includes(filter.toLowerCase()));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "k") {
        e.preventDefault();
        setFilter("");
        setCursor(0);
        setPalette((p) => !p);
        return;
      }
      if ((e.ctrlKey || e.metaKey) && e.key === "l") {
        e.preventDefault();
        void lockNow();
        return;
      }
      if (e.key === "Escape") {
        setPalette(false);
        setHelp(false);
      }
      if (inField(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const s = SCREENS.find(([, , key]) => key === e.key);
      if (s) setScreen(s[0]);
      else if (e.key === "?") setHelp((h) => !h);
      else if (e.key === "R") setTick((t) => t + 1);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [lockNow]);

  const props = { tick, online: status.reachable && !locked, report, notify };
  const focusOn = (s: Screen) => (focus?.screen === s ? focus : null);

  return (
    <div className="app">
      <header>
        <strong className="brand">Gatehouse</strong>
        <nav>
          {SCREENS.map(([s, label, key]) => (
            <button
              key={s}
              className={screen === s ? "tab active" : "tab"}
              onClick={() => setScreen(s)}
              data-testid={`nav-${s}`}
              title={`${label} (${key})`}
            >
              {label}
            </button>
          ))}
        </nav>
        <span className="muted profile-name" title={session?.profile_name}>
          {session ? session.profile_name : keychain ? "Not signed in" : "Signing in…"}
        </span>
        {session?.storage === "memory" && (
          <span
            className="pill"
            role="status"
            data-testid="memory-session"
            title="No keychain is used: this session is kept in memory only and ends when Gatehouse closes."
          >
            in memory
          </span>
        )}
        <span className="who" data-testid="who">
          {session
            ? `${session.subject} (${session.roles.join(", ") || "no role"})${session.mfa ? " · MFA" : ""}`
            : ""}
        </span>
        <button className="tab" onClick={() => void lockNow()} title="Lock (Ctrl+L)">
          Lock
        </button>
      </header>
      {!status.reachable && (
        <div className="banner error" role="alert" data-testid="offline">
          The IdP cannot be reached{status.message ? ` (${status.message})` : ""}. Actions are disabled until it answers;
          nothing is shown as done that the IdP has not confirmed.
        </div>
      )}
      {!session && keychain && <KeychainUnavailable problem={keychain} report={report} />}
      {error && (
        <div className="banner error" role="alert" onClick={() => setError(null)}>
          {error}
        </div>
      )}
      {notice && (
        <div className="banner ok" role="status" data-testid="notice" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      {screen === "pending" && <Pending {...props} focus={focusOn("pending")} />}
      {screen === "connections" && <Connections {...props} focus={focusOn("connections")} />}
      {screen === "audit" && <Audit {...props} />}
      {screen === "profiles" && <Profiles {...props} />}
      {screen === "reviews" && <Reviews {...props} session={session} focus={focusOn("reviews")} />}
      {screen === "helpdesk" && <Helpdesk {...props} approver={session?.roles.some((r) => r === "approver" || r === "admin") ?? false} />}
      {screen === "overview" && <Overview {...props} />}
      {screen === "directory" && <Directory {...props} focus={focusOn("directory")} />}
      {locked && (
        <div className="overlay" role="dialog" aria-label="Locked">
          <div className="card">
            <h2>Gatehouse is locked</h2>
            <p className="muted">Tokens were dropped from memory. Unlock restores the session from the OS keychain.</p>
            <button autoFocus onClick={() => void unlock()} data-testid="unlock">
              Unlock
            </button>
          </div>
        </div>
      )}
      {palette && (
        <div className="overlay" role="dialog" aria-label="Command palette" onClick={() => setPalette(false)}>
          <div className="card palette" onClick={(e) => e.stopPropagation()}>
            <input
              ref={paletteInput}
              autoFocus
              placeholder="Type a command"
              value={filter}
              onChange={(e) => {
                setFilter(e.target.value);
                setCursor(0);
              }}
              onKeyDown={(e) => {
                if (e.key === "ArrowDown") setCursor((c) => Math.min(c + 1, matches.length - 1));
                else if (e.key === "ArrowUp") setCursor((c) => Math.max(c - 1, 0));
                else if (e.key === "Enter" && matches[cursor]) {
                  matches[cursor].run();
                  setPalette(false);
                }
              }}
            />
            <ul>
              {matches.map((c, i) => (
                <li
                  key={c.label}
                  className={i === cursor ? "selected" : ""}
                  onClick={() => {
                    c.run();
                    setPalette(false);
                  }}
                >
                  {c.label} <kbd>{c.keys}</kbd>
                </li>
              ))}
            </ul>
          </div>
        </div>
      )}
      {help && (
        <div className="help" role="dialog" aria-label="Keyboard shortcuts">
          <h3>Keyboard</h3>
          <p>1 Pending · 2 Connections · 3 Audit · 4 Profiles · 5 Reviews · 6 Help desk · 7 Overview · 8 Directory · Ctrl+K commands · Ctrl+L lock · R refresh</p>
          <p>Pending: j / k move · Enter into the detail · a approve · d deny · / search</p>
          <p>Connections: j / k move · s suspend · r revoke · / search</p>
          <p>? this help · Esc close or leave a field</p>
        </div>
      )}
    </div>
  );
}

/** The start-up sign-in could not use the keychain: what is missing, how to
 * fix it, and a sign-in whose session stays in memory for this run. */
function KeychainUnavailable({ problem, report }: { problem: ConsoleError; report: (e: unknown) => void }) {
  const [busy, setBusy] = useState(false);
  const signIn = async () => {
    setBusy(true);
    try {
      const profiles = await ipc.profiles();
      const profile = profiles.find((p) => p.saved) ?? profiles[0];
      if (!profile) throw { code: "invalid", message: "Add an IdP profile first (Profiles)." };
      await ipc.signInUnsaved(profile.profile.id);
    } catch (e) {
      report(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="banner warn" role="alert" data-testid="keychain-unavailable">
      <p>{problem.message}</p>
      <button onClick={() => void signIn()} disabled={busy} data-testid="sign-in-unsaved">
        {busy ? "Waiting for the browser…" : "Sign in without saving (this run only)"}
      </button>
    </div>
  );
}
