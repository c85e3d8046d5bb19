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
export type KillView = Ipc["schemas"]["KillView"];
export type FindingView = Ipc["schemas"]["FindingView"];
export type FindingState = Ipc["schemas"]["FindingState"];
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
export type DirectoryView = Ipc["schemas"]["DirectoryView"];
export type ResourceAppView = Ipc["schemas"]["ResourceAppView"];
export type RegisterResourceApp = Ipc["schemas"]["RegisterResourceApp"];
export type UpdateResourceApp = Ipc["schemas"]["UpdateResourceApp"];
export type KillResult = Ipc["schemas"]["KillResult"];
export type TargetKind = Ipc["schemas"]["TargetKind"];
export type CampaignView = Ipc["schemas"]["CampaignView"];
export type PoliciesView = Ipc["schemas"]["PoliciesView"];
export type ChannelView = Ipc["schemas"]["ChannelView"];
export type DeliveryView = Ipc["schemas"]["DeliveryView"];
export type NotificationKind = Ipc["schemas"]["NotificationKind"];
export type LifecyclePolicies = Ipc["schemas"]["LifecyclePolicies"];
export type CreateCampaign = Ipc["schemas"]["CreateCampaign"];
export type ReviewItemView = Ipc["schemas"]["ReviewItemView"];
export type ReviewItemPage = Ipc["schemas"]["Page_ReviewItemView"];
export type ReviewDecisions = Ipc["schemas"]["ReviewDecisions"];
export type ProfileAdded = Ipc["schemas"]["ProfileAdded"];
export type OpenedLink = Ipc["schemas"]["OpenedLink"];
export type LinkScreen = Ipc["schemas"]["LinkScreen"];
export type UpdateStatus = Ipc["schemas"]["UpdateStatus"];

export function isConsoleError(e: unknown): e is ConsoleError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

type Commands = Ipc["schemas"]["Commands"];
/** Every IPC command's name, from the one Rust list (`ipc_commands`). */
export type CommandName = keyof Commands;
export type Request<K extends CommandName> = Commands[K]["request"];
export type Response<K extends CommandName> = Commands[K]["response"];

/** The one way to reach Rust: the command's name and its request, both typed
 * from the Rust declaration, so a renamed field or a wrong union is a type error. */
export function call<K extends CommandName>(cmd: K, req: Request<K>): Promise<Response<K>> {
  return invoke<Response<K>>(cmd, { req });
}

export type ConnectionAction = Request<"connection_action">["action"];
export type RenewalDecision = Request<"renew_connection">["decision"];
export type AuditExportFormat = Request<"export_audit">["format"];
export type ReportFormat = Request<"export_report">["format"];
export type ListRequestsFilters = Request<"list_requests">;
export type RequestSort = NonNullable<ListRequestsFilters["sort"]>;
export type ItemState = NonNullable<Request<"review_items">["review_state"]>;

export const ipc = {
  session: () => call("session", {}),
  listRequests: (filters: ListRequestsFilters) => call("list_requests", filters),
  getRequest: (id: string) => call("get_request", { id }),
  requestContext: (id: string) => call("request_context", { id }),
  approve: (id: string, etag: string, grant: ApproveRequest) => call("approve", { id, etag, grant }),
  deny: (id: string, etag: string, reason: string) => call("deny", { id, etag, reason }),
  stepUp: () => call("step_up", {}),
  listConnections: (query: ConnectionQuery) => call("list_connections", query),
  getConnection: (id: string) => call("get_connection", { id }),
  connectionAction: (id: string, etag: string, action: ConnectionAction, reason: string) =>
    call("connection_action", { id, etag, action, reason }),
  modifyConnection: (id: string, etag: string, change: ModifyConnection) =>
    call("modify_connection", { id, etag, change }),
  kills: () => call("kills", {}),
  findings: (all: boolean) => call("findings", { all }),
  setFindingState: (id: string, state: FindingState, until: number | null, reason: string) =>
    call("set_finding_state", { id, state, until, reason }),
  // Turns back on exactly what a kill turned off (step-up, a reason).
  reinstateKill: (id: string, version: number, reason: string) => call("reinstate_kill", { id, version, reason }),
  // An owner: is this approval still needed?
  attestConnection: (id: string, etag: string, stillNeeded: boolean, reason: string) =>
    call("attest_connection", { id, etag, still_needed: stillNeeded, reason }),
  // An approver: renew (to a date, else the policy's default lifetime) or let it lapse.
  renewConnection: (id: string, etag: string, decision: RenewalDecision, expiresAt: number | null, reason: string) =>
    call("renew_connection", { id, etag, decision, expires_at: expiresAt, reason }),
  audit: (query: AuditQuery) => call("audit", query),
  verifyAudit: () => call("verify_audit", {}),
  exportAudit: (format: AuditExportFormat) => call("export_audit", { format }),
  lock: () => call("lock", {}),
  unlock: () => call("unlock", {}),
  idpStatus: () => call("idp_status", {}),
  startUpProblem: () => call("start_up_problem", {}),
  // The last gatehouse:// link handed to the app (a launch, the OS, a notification click), taken.
  openedLink: () => call("opened_link", {}),
  profiles: () => call("profiles", {}),
  addProfile: (name: string, issuer: string, clientId: string) =>
    call("add_profile", { name, issuer, client_id: clientId }),
  removeProfile: (id: string) => call("remove_profile", { id }),
  // An https feed the organisation publishes; null clears it.
  setUpdateFeed: (profileId: string, feed: string | null) =>
    call("set_update_feed", { profile_id: profileId, feed }),
  // Downloads and verifies a newer release if the feed has one; never installs.
  checkUpdate: () => call("check_update", {}),
  // Installs what the last check verified: only on the person's say-so.
  installUpdate: () => call("install_update", {}),
  signInBrowser: (profileId: string) => call("sign_in_browser", { profile_id: profileId }),
  // The token goes to Rust once and into the OS keychain; nothing sends it back.
  signInApiToken: (profileId: string, token: string) =>
    call("sign_in_api_token", { profile_id: profileId, token }),
  // When the keychain is locked or absent: the session stays in memory for this run.
  signInUnsaved: (profileId: string) => call("sign_in_unsaved", { profile_id: profileId }),
  signOut: () => call("sign_out", {}),
  helpdeskSearch: (q: string) => call("helpdesk_search", { q }),
  helpdeskLookup: (kind: TargetKind, id: string) => call("helpdesk_lookup", { kind, id }),
  helpdeskKill: (kind: TargetKind, id: string, reason: string, dryRun: boolean) =>
    call("helpdesk_kill", { kind, id, reason, dry_run: dryRun }),
  exportEvidence: (kind: TargetKind, id: string) => call("export_evidence", { kind, id }),
  // The new secret goes to a file the person picks (a native dialog), never to this page.
  registerClient: (req: Request<"register_client">) => call("register_client", req),
  rotateClientSecret: (clientId: string, version: number, overlap: number) =>
    call("rotate_client_secret", { client_id: clientId, version, overlap }),
  // At the version the person edited: a stale one is refused, never merged.
  updateClient: (clientId: string, version: number, change: Request<"update_client">["change"]) =>
    call("update_client", { client_id: clientId, version, change }),
  retireClient: (clientId: string, version: number, reason: string) =>
    call("retire_client", { client_id: clientId, version, reason }),
  registerResourceApp: (req: RegisterResourceApp) => call("register_resource_app", req),
  // At the version the person edited: a stale one is refused, never merged.
  updateResourceApp: (id: string, version: number, change: UpdateResourceApp) =>
    call("update_resource_app", { id, version, change }),
  retireResourceApp: (id: string, version: number, reason: string) =>
    call("retire_resource_app", { id, version, reason }),
  campaigns: () => call("campaigns", {}),
  createCampaign: (body: CreateCampaign) => call("create_campaign", body),
  reviewItems: (id: string, mine: boolean, reviewState?: Request<"review_items">["review_state"]) =>
    call("review_items", { id, mine, review_state: reviewState }),
  decideItems: (id: string, body: ReviewDecisions) => call("decide_items", { id, body }),
  reassignItem: (id: string, item: string, to: string, note: string) =>
    call("reassign_item", { id, item, body: { to, note } }),
  completeCampaign: (id: string) => call("complete_campaign", { id }),
  policies: () => call("policies", {}),
  // At the version the person edited: a stale one is refused, never merged.
  setPolicies: (version: number, policies: Request<"set_policies">["policies"]) =>
    call("set_policies", { version, policies }),
  runPolicies: () => call("run_policies", {}),
  notificationChannels: () => call("notification_channels", {}),
  // A webhook's signing secret goes to a file the person chooses, never here.
  createNotificationChannel: (req: Request<"create_notification_channel">) => call("create_notification_channel", req),
  deleteNotificationChannel: (id: string) => call("delete_notification_channel", { id }),
  notificationDeliveries: (id: string) => call("notification_deliveries", { id }),
  overview: () => call("overview", {}),
  directory: () => call("directory", {}),
  exportReport: (id: string, format: ReportFormat) => call("export_report", { id, format }),
};
