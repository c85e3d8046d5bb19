// The resource-app form's rules: which edits put connections up for
// re-approval, and how the client-id mapping lines are read.
import { describe, expect, it } from "vitest";
import { clientIdMap, draftOf, riskier } from "./ResourceAppForm";
import type { ResourceAppView } from "./ipc";

const scope = (name: string, risk: "read" | "write" | "destructive" | "admin", sensitive = false) => ({ name, description: name, risk, sensitive });

describe("riskier", () => {
  const before = [scope("a", "read"), scope("b", "write"), scope("c", "destructive", true)];
  it("names a scope whose risk rises or that becomes sensitive", () => {
    expect(riskier(before, [scope("a", "write"), scope("b", "write", true), scope("c", "destructive", true)])).toEqual(["a", "b"]);
  });
  it("names nothing for a lower risk, an unchanged scope or a new scope", () => {
    expect(riskier(before, [scope("a", "read"), scope("b", "read"), scope("c", "write", false), scope("d", "admin", true)])).toEqual([]);
  });
});

describe("clientIdMap", () => {
  it("reads one pair per line, ignoring blank lines and spaces", () => {
    expect(clientIdMap(" agent = as-agent \n\nbot=as-bot\n")).toEqual({ agent: "as-agent", bot: "as-bot" });
  });
  it("refuses a line that is not one pair", () => {
    expect(clientIdMap("agent")).toContain("is not");
    expect(clientIdMap("a=b=c")).toContain("is not");
    expect(clientIdMap("=b")).toContain("is not");
  });
  it("round-trips an app's mapping through the draft", () => {
    const app = { id: "x", name: "X", issuer: "https://as", mcp_servers: ["https://m"], scopes: [scope("a", "read")], receivers: [], owners: ["alice"], client_ids: { agent: "as-agent" }, version: 3, origin: "admin", retired_at: null } satisfies ResourceAppView;
    expect(clientIdMap(draftOf(app).clientIds)).toEqual({ agent: "as-agent" });
  });
});
