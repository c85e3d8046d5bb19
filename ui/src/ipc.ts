// Typed IPC: every call goes to a Rust command; types are generated from Rust
// (src/gen/*.ts from openapi.json and crates/console/ipc.json), never written here.
import { invoke } from "@tauri-apps/api/core";
import type { components as Api } from "./gen/api";
import type { components as Ipc } from "./gen/ipc";

export type RequestView = Api["schemas"]["RequestView"];
export type ScopeView = Api["schemas"]["ScopeView"];
export type Risk = Api["schemas"]["Risk"];
export type ApproveRequest = Ipc["schemas"]["ApproveRequest"];
export type DecisionResult = Ipc["schemas"]["DecisionResult"];
export type SessionView = Ipc["schemas"]["SessionView"];
export type ConsoleError = Ipc["schemas"]["ConsoleError"];
export type RequestDetail = Ipc["schemas"]["RequestDetail"];
export type RequestPage = Ipc["schemas"]["Page_RequestView"];

export function isConsoleError(e: unknown): e is ConsoleError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export const ipc = {
  session: () => invoke<SessionView | null>("session"),
  listRequests: (args: { status?: string; q?: string; sort?: string }) => invoke<RequestPage>("list_requests", args),
  getRequest: (id: string) => invoke<RequestDetail>("get_request", { id }),
  approve: (id: string, etag: string, grant: ApproveRequest) => invoke<DecisionResult>("approve", { id, etag, grant }),
  deny: (id: string, etag: string, reason: string) => invoke<DecisionResult>("deny", { id, etag, reason }),
};
