// The Pending screen against a mocked IPC (mockIPC from @tauri-apps/api/mocks):
// what the user sees from list_requests, keyboard selection, and the approve call
// carrying exactly the scopes left checked.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { App } from "./App";
import type { RequestView } from "./ipc";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

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
  mockIPC((cmd, args) => {
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

  it("shows an IPC error's message in a banner", async () => {
    mockIPC((cmd) => {
      if (cmd === "session" || cmd.startsWith("plugin:event")) return null;
      throw { code: "idp_unreachable", message: "The IdP cannot be reached." };
    }, { shouldMockEvents: true });
    act(() => root.render(<App />));
    await settle();
    expect(container.querySelector('[role="alert"]')?.textContent).toBe("The IdP cannot be reached.");
  });
});
