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
export type ConnectionView = Ipc["schemas"]["ConnectionView"];
export type ConnectionDetail = Ipc["schemas"]["ConnectionDetail"];
export type ConnectionPage = Ipc["schemas"]["Page_ConnectionView"];
export type ConnectionQuery = Ipc["schemas"]["ConnectionQuery"];
export type ConnectionStatusFilter = Ipc["schemas"]["ConnectionStatusFilter"];
export type ConnectionSort = Ipc["schemas"]["ConnectionSort"];
export type AuditOutcome = Ipc["schemas"]["AuditOutcome"];
export type ModifyConnection = Ipc["schemas"]["ModifyConnection"];
export type AuditEventView = Ipc["schemas"]["AuditEventView"];
export type AuditPage = Ipc["schemas"]["Page_AuditEventView"];
export type AuditQuery = Ipc["schemas"]["AuditQuery"];
export type ChainReport = Ipc["schemas"]["ChainReportView"];
export type ExportSummary = Ipc["schemas"]["ExportSummary"];
export type IdpStatus = Ipc["schemas"]["IdpStatus"];
export type ChangeEvent = Ipc["schemas"]["ChangeEvent"];
export type StepUpRule = Ipc["schemas"]["StepUpRule"];
export type ProfileView = Ipc["schemas"]["ProfileView"];
export type RequestContext = Ipc["schemas"]["RequestContext"];
export type HelpdeskView = Ipc["schemas"]["HelpdeskView"];
export type OverviewView = Ipc["schemas"]["OverviewView"];
export type KillResult = Ipc["schemas"]["KillResult"];
export type TargetKind = Ipc["schemas"]["TargetKind"];
export type CampaignView = Ipc["schemas"]["CampaignView"];
export type CreateCampaign = Ipc["schemas"]["CreateCampaign"];
export type ReviewItemView = Ipc["schemas"]["ReviewItemView"];
export type ReviewItemPage = Ipc["schemas"]["Page_ReviewItemView"];
export type ReviewDecisions = Ipc["schemas"]["ReviewDecisions"];
export type ProfileAdded = Ipc["schemas"]["ProfileAdded"];

export function isConsoleError(e: unknown): e is ConsoleError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

export const ipc = {
  session: () => invoke<SessionView | null>("session"),
  listRequests: (args: { status?: string; q?: string; sort?: string; risk?: string }) => invoke<RequestPage>("list_requests", args),
  getRequest: (id: string) => invoke<RequestDetail>("get_request", { id }),
  requestContext: (id: string) => invoke<RequestContext>("request_context", { id }),
  approve: (id: string, etag: string, grant: ApproveRequest) => invoke<DecisionResult>("approve", { id, etag, grant }),
  deny: (id: string, etag: string, reason: string) => invoke<DecisionResult>("deny", { id, etag, reason }),
  stepUp: () => invoke<SessionView>("step_up"),
  listConnections: (query: ConnectionQuery) => invoke<ConnectionPage>("list_connections", { query }),
  getConnection: (id: string) => invoke<ConnectionDetail>("get_connection", { id }),
  connectionAction: (id: string, etag: string, action: "suspend" | "resume" | "revoke", reason: string) =>
    invoke<ConnectionView>("connection_action", { id, etag, action, reason }),
  modifyConnection: (id: string, etag: string, change: ModifyConnection) =>
    invoke<ConnectionView>("modify_connection", { id, etag, change }),
  audit: (query: AuditQuery) => invoke<AuditPage>("audit", { query }),
  verifyAudit: () => invoke<ChainReport>("verify_audit"),
  exportAudit: (format: "csv" | "jsonl") => invoke<ExportSummary | null>("export_audit", { format }),
  lock: () => invoke<null>("lock"),
  unlock: () => invoke<SessionView | null>("unlock"),
  idpStatus: () => invoke<IdpStatus>("idp_status"),
  profiles: () => invoke<ProfileView[]>("profiles"),
  addProfile: (name: string, issuer: string, clientId: string) =>
    invoke<ProfileAdded>("add_profile", { name, issuer, clientId }),
  removeProfile: (id: string) => invoke<null>("remove_profile", { id }),
  signInBrowser: (profileId: string) => invoke<SessionView>("sign_in_browser", { profileId }),
  // The token goes to Rust once and into the OS keychain; nothing sends it back.
  signInApiToken: (profileId: string, token: string) => invoke<SessionView>("sign_in_api_token", { profileId, token }),
  signOut: () => invoke<null>("sign_out"),
  helpdeskSearch: (q: string) => invoke<HelpdeskView>("helpdesk_search", { q }),
  helpdeskLookup: (kind: TargetKind, id: string) => invoke<HelpdeskView>("helpdesk_lookup", { kind, id }),
  helpdeskKill: (kind: TargetKind, id: string, reason: string, dryRun: boolean) =>
    invoke<KillResult>("helpdesk_kill", { kind, id, reason, dryRun }),
  exportEvidence: (kind: TargetKind, id: string) => invoke<number | null>("export_evidence", { kind, id }),
  campaigns: () => invoke<CampaignView[]>("campaigns"),
  createCampaign: (body: CreateCampaign) => invoke<CampaignView>("create_campaign", { body }),
  reviewItems: (id: string, mine: boolean, reviewState?: string) => invoke<ReviewItemPage>("review_items", { id, mine, reviewState }),
  decideItems: (id: string, body: ReviewDecisions) => invoke<ReviewItemView[]>("decide_items", { id, body }),
  reassignItem: (id: string, item: string, to: string, note: string) =>
    invoke<ReviewItemView>("reassign_item", { id, item, body: { to, note } }),
  completeCampaign: (id: string) => invoke<CampaignView>("complete_campaign", { id }),
  overview: () => invoke<OverviewView>("overview"),
  exportReport: (id: string, format: "csv" | "pdf") => invoke<number | null>("export_report", { id, format }),
};
