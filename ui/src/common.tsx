// Small pieces every screen uses: risk badges, relative times, error text, and
// the rule that a key press in a text field belongs to the field.
import type { Risk } from "./ipc";
import { isConsoleError } from "./ipc";

export const RISK_ORDER: Risk[] = ["read", "write", "destructive", "admin"];

export function ago(unixSeconds: number | null | undefined): string {
  if (unixSeconds == null) return "never";
  const s = Math.max(0, Math.floor(Date.now() / 1000) - unixSeconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

export function errorText(e: unknown): string {
  return isConsoleError(e) ? e.message : String(e);
}

/** True when the key event happened in a text field (Esc leaves the field). */
export function inField(e: KeyboardEvent): boolean {
  const t = e.target;
  if (t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) {
    if (e.key === "Escape") (t as HTMLElement).blur();
    return true;
  }
  return false;
}

export function RiskBadge({ risk, sensitive }: { risk: Risk | null | undefined; sensitive?: boolean }) {
  if (!risk) return null;
  return (
    <span className={`risk risk-${risk}`} title={sensitive ? "sensitive: two approvers and MFA" : risk}>
      {risk}
      {sensitive ? " ●" : ""}
    </span>
  );
}

/** What the screens get from the shell. */
export interface ScreenProps {
  /** Bumped on every live change from the IdP: refetch. */
  tick: number;
  /** False while the IdP cannot be reached: actions are disabled. */
  online: boolean;
  report: (e: unknown) => void;
  notify: (message: string) => void;
  /** A `gatehouse://` link asked for this thing on this screen (a new `seq` each time). */
  focus?: Focus | null;
}

/** The id a link opened a screen at; `seq` makes the same link twice two asks. */
export interface Focus {
  id: string;
  seq: number;
}

/** A copy of `set` with `x` added, or removed if it was there. */
export function toggled<T>(set: Set<T>, x: T): Set<T> {
  const n = new Set(set);
  if (n.has(x)) n.delete(x);
  else n.add(x);
  return n;
}

/** The member of a closed set a `<select>` now shows (`fallback` if none). */
export function chosen<T extends string>(options: readonly (readonly [T, string])[], value: string, fallback: T): T {
  return options.find(([v]) => v === value)?.[0] ?? fallback;
}

/** The "risk at least" picker both lists use (values are the API's `risk`). */
export function RiskSelect({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <select value={value} onChange={(e) => onChange(e.target.value)} aria-label="Risk at least">
      <option value="">Any risk</option>
      <option value="write">Write+</option>
      <option value="destructive">Destructive+</option>
      <option value="admin">Admin</option>
    </select>
  );
}
