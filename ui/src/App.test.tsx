// The Pending screen against a mocked IPC (mockIPC from @tauri-apps/api/mocks):
// what the user sees from list_requests, keyboard selection, and the approve call
// carrying exactly the scopes left checked.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { App } from "./App";
import { describeChange } from "./Pending";
import type { RequestView } from "./ipc";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
// jsdom has no layout: give elements a window-sized box so the virtualised
// tables render the rows a person would see.
Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 680 });
Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });

function request(id: string, client: string, scopes: [string, "read" | "write" | "admin", boolean][]): RequestView {
  return {
    id,
    status: "pending",
    client: { client_id: client, name: client },
    resource_app: { id: "crm", name: "CRM" },
    scopes: scopes.map(([name, risk, sensitive]) => ({ name, risk, sensitive, description: name })),
    highest_risk: scopes.some((s) => s[1] === "admin") ? "admin" : "write",
    sensitive: scopes.some((s) => s[2]),
    resources: [],
    users: [{ username: "alice", groups: ["engineering"], refused_count: 2 }],
    refused_count: 2,
    first_seen: Math.floor(Date.now() / 1000) - 7200,
    last_seen: Math.floor(Date.now() / 1000),
    justification: null,
    approvals: [],
    decided_by: [],
    decision_reason: null,
    connection_id: null,
    version: 1,
    reapproval: null,
  };
}

const queue = [
  request("req_1", "Research Assistant", [["crm.contacts.read", "read", false], ["crm.deals.write", "write", false]]),
  request("req_2", "Support Copilot", [["crm.export", "admin", true]]),
];

let root: Root;
let container: HTMLDivElement;
let calls: { cmd: string; args: unknown }[];

beforeEach(() => {
  calls = [];
  mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
    calls.push({ cmd, args });
    switch (cmd) {
      case "session":
        return { profile_id: "p", profile_name: "Demo IdP", issuer: "http://idp", subject: "carol", roles: ["approver"], kind: "session", mfa: false };
      case "list_requests":
        return { items: queue, total: queue.length };
      case "get_request": {
        const id = (args as { id: string }).id;
        return { request: queue.find((r) => r.id === id), etag: '"v1"' };
      }
      case "approve":
        return { request: { ...queue[0], status: "approved" } };
      case "idp_status":
        return { reachable: true, message: null };
      default:
        return null;
    }
  }, { shouldMockEvents: true });
  container = document.createElement("div");
  document.body.appendChild(container);
  root = createRoot(container);
});

afterEach(async () => {
  act(() => root.unmount());
  // Let the listeners' async unlisten run before the mocks go away.
  await act(async () => new Promise((r) => setTimeout(r, 0)));
  container.remove();
  clearMocks();
});

async function settle() {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

describe("Pending queue", () => {
  it("shows the count, the rows and the signed-in approver", async () => {
    act(() => root.render(<App />));
    await settle();
    expect(container.querySelector('[data-testid="pending-count"]')?.textContent).toBe("2");
    expect(container.querySelectorAll('[data-testid="request-row"]').length).toBe(2);
    expect(container.querySelector('[data-testid="who"]')?.textContent).toContain("carol (approver)");
  });

  it("a request decided under rules that have since changed says which", async () => {
    const decided = {
      ...queue[0],
      status: "approved",
      rules_changed: [{ scope: "crm.deals.write", risk_before: "write", risk_after: "destructive", sensitive_before: false, sensitive_after: true }],
    };
    mockIPC((cmd) => {
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [decided], total: 1 };
      if (cmd === "get_request") return { request: decided, etag: '"v3"' };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    expect(container.querySelector('[data-testid="rules-changed"]')?.textContent).toContain(
      "Decided (approved) under rules that have since changed:crm.deals.write: write → destructive, now sensitive",
    );
  });

  it("moves with j/k and approves with exactly the scopes left checked", async () => {
    act(() => root.render(<App />));
    await settle();
    expect(container.querySelector("h2")?.textContent).toContain("Research Assistant");
    // Drop the write scope, then approve with the keyboard.
    const boxes = container.querySelectorAll<HTMLInputElement>('.scopes input[type="checkbox"]');
    const write = Array.from(boxes).find((b) => b.parentElement?.textContent?.includes("crm.deals.write"))!;
    act(() => write.click());
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "a" })));
    await settle();
    const approve = calls.find((c) => c.cmd === "approve");
    expect(approve?.args).toEqual({ id: "req_1", etag: '"v1"', grant: { scopes: ["crm.contacts.read"] } });
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "j" })));
    await settle();
    expect(container.querySelector("h2")?.textContent).toContain("Support Copilot");
  });

  it("the risk and order pickers go to the server's filter", async () => {
    act(() => root.render(<App />));
    await settle();
    const risk = container.querySelector<HTMLSelectElement>('select[aria-label="Risk at least"]')!;
    const setValue = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "value")!.set!;
    await act(async () => {
      setValue.call(risk, "admin");
      risk.dispatchEvent(new Event("change", { bubbles: true }));
    });
    await settle();
    const last = calls.filter((c) => c.cmd === "list_requests").at(-1);
    expect(last?.args).toMatchObject({ risk: "admin", sort: "age" });
  });

  it("a 500-request page puts only the rows in view into the DOM", async () => {
    const many = Array.from({ length: 500 }, (_, i) => request(`req_${i}`, `Agent ${i}`, [["crm.contacts.read", "read", false]]));
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: many, total: 10000 };
      if (cmd === "get_request") return { request: many.find((r) => r.id === (args as { id: string }).id), etag: '"v1"' };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    expect(container.querySelector('[data-testid="pending-count"]')?.textContent).toBe("10000");
    const rows = container.querySelectorAll('[data-testid="request-row"]').length;
    expect(rows).toBeGreaterThan(10);
    expect(rows).toBeLessThan(60);
  });

  it("an unreachable IdP shows the banner and disables every decision", async () => {
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: false, message: "connection refused" };
      if (cmd === "list_requests") return { items: queue, total: queue.length };
      if (cmd === "get_request") return { request: queue[0], etag: '"v1"' };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    expect(container.querySelector('[data-testid="offline"]')?.textContent).toContain("Actions are disabled");
    expect(container.querySelector<HTMLButtonElement>('[data-testid="approve"]')?.disabled).toBe(true);
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "a" })));
    await settle();
    expect(calls.some((c) => c.cmd === "approve")).toBe(false);
  });

  it("a stale ETag (412) reloads the request and says what changed, without deciding", async () => {
    let approveCalls = 0;
    const changed = { ...queue[0], scopes: [...queue[0].scopes, { name: "crm.export", risk: "admin" as const, sensitive: true, description: "" }], version: 2 };
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "session") return null;
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [queue[0]], total: 1 };
      if (cmd === "get_request") return approveCalls ? { request: changed, etag: '"v2"' } : { request: queue[0], etag: '"v1"' };
      if (cmd === "approve") {
        approveCalls++;
        throw { code: "stale", message: "The request changed." };
      }
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "a" })));
    await settle();
    expect(container.querySelector('[data-testid="stale"]')?.textContent).toContain("now also asks for crm.export");
    expect(container.querySelector('[data-testid="notice"]')).toBeNull();
    // The next approval goes against the new ETag.
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "a" })));
    await settle();
    const approvals = calls.filter((c) => c.cmd === "approve").map((c) => (c.args as { etag: string }).etag);
    expect(approvals).toEqual(['"v1"', '"v2"']);
  });

  it("a step-up challenge asks to re-authenticate, then retries the approval", async () => {
    let mfa = false;
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "session") return null;
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [queue[1]], total: 1 };
      if (cmd === "get_request") return { request: queue[1], etag: '"v1"' };
      if (cmd === "step_up") {
        mfa = true;
        return { profile_id: "p", profile_name: "Demo", issuer: "http://idp", subject: "carol", roles: ["approver"], kind: "session", mfa: true };
      }
      if (cmd === "approve") {
        if (!mfa) throw { code: "step_up_required", message: "MFA needed" };
        return { request: { ...queue[1], status: "awaiting_second_approval", approvals: [] } };
      }
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "a" })));
    await settle();
    const banner = container.querySelector('[data-testid="step-up"]');
    expect(banner?.textContent).toContain("second factor");
    await act(async () => banner!.querySelector("button")!.click());
    await settle();
    expect(calls.map((c) => c.cmd).filter((c) => c === "step_up" || c === "approve")).toEqual(["approve", "step_up", "approve"]);
    expect(container.querySelector('[data-testid="notice"]')?.textContent).toContain("a second approver must confirm");
  });
});

describe("Request context", () => {
  it("counts who would gain access, before and after restricting to a group, and shows the owner", async () => {
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [queue[0]], total: 1 };
      if (cmd === "get_request") return { request: queue[0], etag: '"v1"' };
      if (cmd === "request_context")
        return {
          client: { client_id: "Research Assistant", name: "Research Assistant", description: null, owners: ["alice"], auth_method: "client_secret_basic", connections: 2, pending_requests: 1 },
          groups: [
            { name: "engineering", members: ["alice", "frank"], roles: [] },
            { name: "employees", members: ["alice", "bob", "frank", "grace"], roles: [] },
          ],
          directory_users: 11,
          history: [],
        };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    expect(container.querySelector('[data-testid="blast-radius"]')?.textContent).toContain("All 11 people");
    expect(container.querySelector('[data-testid="client-owners"]')?.textContent).toContain("owned by alice");
    const engineering = Array.from(container.querySelectorAll("fieldset label")).find((l) => l.textContent?.includes("engineering"))!;
    await act(async () => engineering.querySelector("input")!.click());
    await settle();
    expect(container.querySelector('[data-testid="blast-radius"]')?.textContent).toContain("2 people would gain access (members of engineering): alice, frank");
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "a" })));
    await settle();
    expect((calls.find((c) => c.cmd === "approve")?.args as { grant: unknown }).grant).toEqual({
      scopes: ["crm.contacts.read", "crm.deals.write"],
      allowed_groups: ["engineering"],
    });
  });
});

describe("describeChange", () => {
  it("names added scopes, new users and a status change", () => {
    const after = { ...queue[0], status: "awaiting_second_approval" as const, users: [...queue[0].users, { username: "bob", groups: [], refused_count: 1 }], scopes: queue[0].scopes.slice(0, 1) };
    expect(describeChange(queue[0], after)).toEqual([
      "no longer asks for crm.deals.write",
      "new requesting users: bob",
      "status is now awaiting second approval",
    ]);
  });
});

describe("Connections and Audit", () => {
  const connection = {
    id: "conn_1", client: { client_id: "code-agent", name: "Code Agent" }, resource_app: { id: "docs", name: "Docs" },
    status: "revoked", scopes: { all_of: [] }, granted_scopes: [{ name: "docs.read", risk: "read", sensitive: false, description: "read" }],
    highest_risk: "read", allowed_groups: [], allowed_resources: [], step_up: [], id_jag_lifetime: null, expires_at: null,
    approved_by: ["carol"], justification: null, request_id: null, created_at: 1, updated_at: 2, last_used_at: null,
    status_reason: "offboarding", version: 3, excluded_users: [],
    receipts: [{ event_id: "e1", receiver: "http://127.0.0.1:9/revocation-events", status: "delivered", attempts: 1, latency_ms: 4, created_at_ms: 1, delivered_at_ms: 5, last_error: null }],
  };

  it("shows a revoked connection's receipt per receiver with its latency", async () => {
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "list_connections") return { items: [connection], total: 1 };
      if (cmd === "get_connection") return { connection, etag: '"v3"' };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "2" })));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "j" })));
    await settle();
    expect(container.querySelector('[data-testid="connection-status"]')?.textContent).toBe("revoked");
    const receipt = container.querySelector('[data-testid="receipt"]')?.textContent ?? "";
    expect(receipt).toContain("delivered");
    expect(receipt).toContain("4 ms");
    expect(container.querySelector('[data-testid="revoke"]')).toBeNull();
  });

  it("loads the next page of connections as the last rows come into view", async () => {
    const make = (i: number) => ({ ...connection, id: `conn_${i}`, status: "active" as const, receipts: [] });
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "list_connections") {
        const cursor = (args as { cursor?: string }).cursor;
        return cursor
          ? { items: Array.from({ length: 30 }, (_, i) => make(30 + i)), total: 60, next_cursor: null }
          : { items: Array.from({ length: 30 }, (_, i) => make(i)), total: 60, next_cursor: "page2" };
      }
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "2" })));
    await settle();
    await settle();
    const cursors = calls.filter((c) => c.cmd === "list_connections").map((c) => (c.args as { cursor?: string }).cursor);
    expect(cursors).toContain("page2");
    expect(container.textContent).not.toContain("more load as you scroll");
  });

  it("a broken audit chain is reported with the first broken event", async () => {
    mockIPC((cmd) => {
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "audit") return { items: [], total: 0 };
      if (cmd === "verify_audit") return { ok: false, events: 10, first_broken: 7, head: "ab" };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "3" })));
    await settle();
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="verify"]')!.click());
    await settle();
    expect(container.querySelector('[data-testid="chain"]')?.textContent).toContain("BROKEN at event #7");
  });
});

describe("Profiles", () => {
  it("shows what discovery found and clears a pasted API token once sent", async () => {
    const profile = { id: "p1", name: "Acme", issuer: "https://idp.acme.test", client_id: "gatehouse-console" };
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "profiles") return [{ profile, saved: true, active: false }];
      if (cmd === "add_profile")
        return { profile, discovery: { issuer: profile.issuer, authorization_endpoint: "", token_endpoint: "", revocation_endpoint: null, supports_pkce_s256: true, supports_xaa: true, admin_api: "https://idp.acme.test/admin/v1" } };
      if (cmd === "sign_in_api_token") return { profile_id: "p1", profile_name: "Acme", issuer: profile.issuer, subject: "svc", roles: ["auditor"], kind: "api_token", mfa: false };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "4" })));
    await settle();
    expect(container.querySelector('[data-testid="profiles"]')?.textContent).toContain("https://idp.acme.test");
    const buttons = Array.from(container.querySelectorAll("button"));
    await act(async () => buttons.find((b) => b.textContent === "Use an API token")!.click());
    const input = container.querySelector<HTMLInputElement>('input[type="password"]')!;
    const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!;
    await act(async () => {
      setValue.call(input, "gh_adm_secret");
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(async () => input.form!.requestSubmit());
    await settle();
    expect(calls.find((c) => c.cmd === "sign_in_api_token")?.args).toEqual({ profile_id: "p1", token: "gh_adm_secret" });
    expect(container.querySelector('input[type="password"]')).toBeNull();
    expect(container.innerHTML).not.toContain("gh_adm_secret");
  });
});

describe("Reviews and Help desk", () => {
  const item = (id: string, rec: "keep" | "revoke") => ({
    id, campaign_id: "rev_1", connection_id: `conn_${id}`,
    client: { client_id: "code-agent", name: "Code Assistant" }, resource_app: { id: "docs", name: "Docs" },
    granted_scopes: ["docs.read", "docs.write"], reviewer: "ivan", recommendation: rec,
    recommendation_reason: rec === "revoke" ? "never used: no ID-JAG issued" : "12 ID-JAGs in the last 30 days",
    last_used_at: null, exchanges_30d: 0, exchanges_90d: 0, decision: null, decided_by: null, decided_at: null,
    reason: null, scopes_after: null, defaulted: false, remediation: null, reassign_note: null, username: null,
  });
  const campaign = {
    id: "rev_1", name: "Q4", scope: {}, reviewers: ["ivan"], fallback_reviewer: "ivan", starts_at: 0, due_at: 2000000000,
    default_action: "keep", per_user: false, status: "active", created_by: "judy", created_at: 0, completed_at: null, items: 2, decided: 0,
    progress: [{ reviewer: "ivan", items: 2, decided: 0 }],
  };

  it("keeping against a revoke recommendation needs a reason, which goes with the bulk decision", async () => {
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "session") return { profile_id: "p", profile_name: "Demo", issuer: "http://idp", subject: "ivan", roles: ["reviewer"], kind: "session", mfa: false };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "campaigns") return [campaign];
      if (cmd === "review_items") return { items: [item("i1", "revoke"), item("i2", "revoke")], total: 2 };
      if (cmd === "decide_items") return [{ ...item("i1", "revoke"), decision: "keep", remediation: "kept" }, { ...item("i2", "revoke"), decision: "keep", remediation: "kept" }];
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "5" })));
    await settle();
    const boxes = container.querySelectorAll<HTMLInputElement>('[data-testid="review-item"] input[type="checkbox"]');
    expect(boxes.length).toBe(2);
    await act(async () => boxes[0].click());
    await act(async () => boxes[1].click());
    const keep = container.querySelector<HTMLButtonElement>('[data-testid="review-keep"]')!;
    expect(keep.disabled).toBe(true);
    const revoke = container.querySelector<HTMLButtonElement>('[data-testid="review-revoke"]')!;
    expect(revoke.disabled).toBe(false);
    const reason = container.querySelector<HTMLTextAreaElement>('[data-testid="review-reason"]')!;
    const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value")!.set!;
    await act(async () => {
      setValue.call(reason, "needed for the quarter close");
      reason.dispatchEvent(new Event("input", { bubbles: true }));
    });
    expect(keep.disabled).toBe(false);
    await act(async () => keep.click());
    await settle();
    expect(calls.find((c) => c.cmd === "decide_items")?.args).toEqual({
      id: "rev_1",
      body: { items: ["i1", "i2"], decision: "keep", reason: "needed for the quarter close", scopes: null },
    });
  });

  it("the kill switch shows the exact count before it acts, then the receipts, its progress and the reinstatement", async () => {
    let killed = false;
    let reinstated = false;
    const receipt = (status: string, attempts: number) => ({
      event_id: `e${attempts}`, receiver: "http://127.0.0.1:9/r", status, attempts, latency_ms: null, created_at_ms: 1, delivered_at_ms: null, last_error: status === "pending" ? "HTTP 503" : null,
    });
    const kill = (done: boolean) => ({
      id: "kill_1", selector: "client", target: "support-copilot", reason: "token leak", killed_by: "dave", killed_at: 1_800_000_000,
      connections: [{ connection_id: "c1", client: { client_id: "support-copilot", name: "Support Copilot" }, resource_app: { id: "tickets", name: "Service Desk" },
        status_before: "suspended", status_now: done ? "suspended" : "revoked", reinstated: done }],
      deliveries: { queued: 3, delivered: 1, pending: 2, failed: 0, receipts: [receipt("delivered", 1), receipt("pending", 4), receipt("pending", 2)] },
      version: done ? 2 : 1, ...(done ? { reinstated_by: "carol", reinstated_at: 1_800_000_100, reinstate_reason: "false alarm" } : {}),
    });
    const view = {
      matches: [{ kind: "client", id: "support-copilot", name: "Support Copilot", detail: "AI client" }],
      target: { kind: "client", id: "support-copilot", name: "Support Copilot", detail: "AI client" },
      connections: [], recent_id_jags: [], possibly_live: 0,
    };
    mockIPC((cmd, envelope) => {
    // Every command's arguments are its one request: `{ req }`.
    const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "helpdesk_search" || cmd === "helpdesk_lookup") return view;
      if (cmd === "session")
        return { profile_id: "p", profile_name: "Demo IdP", issuer: "http://idp", subject: "carol", roles: ["approver"], kind: "session", mfa: true };
      if (cmd === "kills") return killed ? [kill(reinstated)] : [];
      if (cmd === "reinstate_kill") {
        reinstated = true;
        return kill(true);
      }
      if (cmd === "helpdesk_kill") {
        killed = !(args as { dry_run: boolean }).dry_run;
        const dry = (args as { dry_run: boolean }).dry_run;
        return {
          result: { dry_run: dry, connections_revoked: 3, connection_ids: ["c1"], users_blocked: 0, events_queued: dry ? 0 : 3 },
          receipts: dry ? [] : [{ connection_id: "c1", receipts: [{ event_id: "e", receiver: "http://127.0.0.1:9/r", status: "delivered", attempts: 1, latency_ms: 3, created_at_ms: 1, delivered_at_ms: 4, last_error: null }] }],
        };
      }
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "6" })));
    await settle();
    const search = container.querySelector<HTMLInputElement>('[data-testid="helpdesk-search"]')!;
    const setInput = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")!.set!;
    await act(async () => {
      setInput.call(search, "copilot");
      search.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(async () => search.form!.requestSubmit());
    await settle();
    const reason = container.querySelector<HTMLTextAreaElement>('[data-testid="kill-reason"]')!;
    const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value")!.set!;
    await act(async () => {
      setValue.call(reason, "token leak");
      reason.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="kill-check"]')!.click());
    await settle();
    expect(container.querySelector('[data-testid="kill-count"]')?.textContent).toContain("exactly 3 connection(s)");
    expect(calls.filter((c) => c.cmd === "helpdesk_kill").map((c) => (c.args as { dry_run: boolean }).dry_run)).toEqual([true]);
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="kill-confirm"]')!.click());
    await settle();
    expect(calls.filter((c) => c.cmd === "helpdesk_kill").map((c) => (c.args as { dry_run: boolean }).dry_run)).toEqual([true, false]);
    expect(container.querySelector('[data-testid="kill-receipt"]')?.textContent).toContain("delivered");
    // The kill's progress, retries included; an approver reinstates it with a reason.
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "6" })));
    await settle();
    expect(container.querySelector('[data-testid="kill-progress"]')?.textContent).toContain("1/3 delivered, 2 retrying (4 tries)");
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="reinstate"]')!.click());
    await settle();
    expect(container.querySelector('[data-testid="kills"]')?.textContent).toContain("back to suspended");
    const why = container.querySelector<HTMLTextAreaElement>('[data-testid="reinstate-reason"]')!;
    await act(async () => {
      setValue.call(why, "false alarm");
      why.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="reinstate-confirm"]')!.click());
    await settle();
    expect(calls.filter((c) => c.cmd === "reinstate_kill").map((c) => c.args)).toEqual([{ id: "kill_1", version: 1, reason: "false alarm" }]);
    expect(container.querySelector('[data-testid="kill-reinstated"]')?.textContent).toContain("by carol: 1 back on");
  });
});

describe("Overview", () => {
  it("draws an edge per connection, weighted by usage, with its detail on click, and the charts", async () => {
    const conn = (id: string, client: string, app: string, risk: "read" | "admin") => ({
      id, client: { client_id: client, name: client.toUpperCase() }, resource_app: { id: app, name: app.toUpperCase() },
      status: "active", scopes: { kind: "all" }, granted_scopes: [{ name: `${app}.read`, risk, sensitive: false, description: "" }], excluded_users: [],
      highest_risk: risk, allowed_groups: [], allowed_resources: [], step_up: [], id_jag_lifetime: null, expires_at: null,
      approved_by: ["carol"], justification: null, request_id: null, created_at: 1, updated_at: 1, last_used_at: null,
      status_reason: null, version: 1, receipts: [],
    });
    mockIPC((cmd) => {
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "overview")
        return {
          connections: [conn("c1", "code-agent", "docs", "admin"), conn("c2", "copilot", "tickets", "read")],
          clients: [], apps: [],
          stats: {
            usage: [{ client_id: "code-agent", resource_app: "docs", exchanges_30d: 40, last_at_ms: 1 }],
            issuance: [{ hour_ms: 0, client_id: "code-agent", count: 5 }],
            decisions: Array.from({ length: 14 }, (_, i) => ({ day_ms: i * 86400000, approved: i % 2, denied: 0 })),
            pending_by_age: [{ label: "< 1 hour", count: 3 }],
          },
        };
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "7" })));
    await settle();
    const edges = container.querySelectorAll<SVGPathElement>('[data-testid="map-edge"]');
    expect(edges.length).toBe(2);
    const widths = Array.from(edges).map((e) => Number(e.getAttribute("stroke-width")));
    expect(widths[0]).toBeGreaterThan(widths[1]);
    expect(edges[0].getAttribute("stroke")).toBe("#7b3fbf");
    await act(async () => edges[0].dispatchEvent(new MouseEvent("click", { bubbles: true })));
    expect(container.querySelector('[data-testid="edge-detail"]')?.textContent).toContain("40 ID-JAGs in 30 days");
    expect(container.querySelectorAll('[data-testid="chart-decisions"] g').length).toBe(14);
  });

  it("lists findings with their evidence, remedies one through the connection's version, and snoozes one with a reason", async () => {
    const finding = {
      id: "fnd_1", kind: "unused_scopes", severity: "medium", connection_id: "conn_1",
      client: { client_id: "sales-notetaker", name: "Sales Notetaker" }, resource_app: { id: "crm", name: "CRM" },
      explanation: "Sales Notetaker → CRM was granted crm.deals.write but asked for none of it in 30 days",
      evidence: { window_days: 30, used: { "crm.contacts.read": { count: 4, last_at_ms: 1_800_000_000_000 } }, unused: ["crm.deals.write"] },
      evidence_digest: "d", connection_version: 7, state: "open",
      remediation: { scopes: ["crm.contacts.read"], reason: "least privilege: narrowed" },
    };
    let open = true;
    mockIPC((cmd, envelope) => {
      const args = (envelope as { req: unknown }).req;
      calls.push({ cmd, args });
      if (cmd === "idp_status") return { reachable: true, message: null };
      if (cmd === "list_requests") return { items: [], total: 0 };
      if (cmd === "overview")
        return { connections: [], clients: [], apps: [], stats: { usage: [], issuance: [], decisions: [], pending_by_age: [] } };
      if (cmd === "findings") return open ? [finding] : [];
      if (cmd === "modify_connection" || cmd === "set_finding_state") {
        open = false;
        return cmd === "set_finding_state" ? { ...finding, state: "snoozed" } : {};
      }
      return null;
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    await act(async () => window.dispatchEvent(new KeyboardEvent("keydown", { key: "7" })));
    await settle();
    expect(container.querySelector('[data-testid="finding-evidence"]')?.textContent).toContain("crm.contacts.read ×4 (last 2027-01-15); never: crm.deals.write");
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="finding-remedy"]')!.click());
    await settle();
    expect(calls.filter((c) => c.cmd === "modify_connection").map((c) => c.args)).toEqual([
      { id: "conn_1", etag: '"v7"', change: finding.remediation },
    ]);
    expect(container.querySelector('[data-testid="finding"]')).toBeNull();
    // Back again: snoozed for 30 days with a reason.
    open = true;
    await act(async () => container.querySelector<HTMLInputElement>('[data-testid="findings"] input[type=checkbox]')!.click());
    await settle();
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="finding-snoozed"]')!.click());
    const why = container.querySelector<HTMLTextAreaElement>('[data-testid="finding-reason"]')!;
    const setValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value")!.set!;
    await act(async () => {
      setValue.call(why, "quarter-end sync");
      why.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await act(async () => container.querySelector<HTMLButtonElement>('[data-testid="finding-confirm"]')!.click());
    await settle();
    const snooze = calls.find((c) => c.cmd === "set_finding_state")!.args as { id: string; state: string; until: number; reason: string };
    expect([snooze.id, snooze.state, snooze.reason]).toEqual(["fnd_1", "snoozed", "quarter-end sync"]);
    expect(snooze.until - Date.now() / 1000).toBeGreaterThan(29 * 86400);
  });
});
