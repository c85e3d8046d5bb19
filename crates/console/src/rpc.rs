//! The console's IPC surface as the command list in `ipc_commands` declares it:
//! one request type per command (a struct, never positional arguments), the
//! handler each command runs, and the schema of every request and response the
//! UI's TypeScript client is typed from. A handler has one shape,
//! `name(&Console, &impl Shell, Request) -> Result<Response, ConsoleError>`, so
//! `src-tauri` generates its forwards from the same list and a handler missing
//! or of another type fails to compile there.
//!
//! What only a window can do (a save dialog, opening the browser, telling the
//! webview the session changed) is asked of the [`Shell`]; everything else
//! happens here or in `commands`, where it is tested without a window.

pub use crate::{
    ConsoleError, SessionView,
    helpdesk::{HelpdeskView, KillResult, TargetKind},
    ipc::{
        ChannelSaved, ClientSaved, ConnectionDetail, DirectoryView, ExportSummary, IdpStatus,
        OverviewView, ProfileAdded, ProfileView, RequestContext, RequestDetail,
    },
    links::OpenedLink,
    updates::UpdateStatus,
};
pub use admin_api::{
    ApproveRequest, AttestBody, AuditEventView, AuditExportFormat, AuditQuery, CampaignView,
    ChainReportView, ChannelKind, ChannelView, ClientView, ConnectionAction, ConnectionQuery,
    ConnectionView, CreateCampaign, CreateChannel, DecisionResult, DeliveryView, FindingQuery,
    FindingState, FindingView, ItemState, KillView, LifecyclePolicies, ModifyConnection, Page,
    PoliciesView, PolicyRunReport, Reassign, RegisterResourceApp, RenewBody, RenewalDecision,
    ReportFormat, RequestSort, RequestStatusFilter, RequestView, ResourceAppView, ReviewDecisions,
    ReviewItemView, Risk,
};

use crate::{Console, ErrorCode, commands as c, helpdesk, session::OpenUrl};
use schemars::{JsonSchema, SchemaGenerator};
use serde::Deserialize;
use std::{future::Future, path::PathBuf};

/// What only the window can do, asked of it by the commands that need it.
pub trait Shell: Sync {
    /// Where the person wants a file saved (a native dialog: the webview never
    /// names a path); `None` when they cancel.
    fn choose_save_path(
        &self,
        save: SaveAs,
    ) -> impl Future<Output = Result<Option<PathBuf>, ConsoleError>> + Send;
    /// How sign-in opens an authorization URL (the system browser, or in demo
    /// mode the demo approver).
    fn opener(&self) -> OpenUrl;
    /// Tells the webview the session changed (signed in or out).
    fn session_changed(&self);
    /// The embedded IdP's reachability as the shell last saw it.
    fn idp_status(&self) -> IdpStatus;
    /// Why the start-up sign-in did not finish, while nobody has signed in
    /// since (a window that loads after the start-up asks for it).
    fn start_up_problem(&self) -> Option<ConsoleError>;
    /// The last `gatehouse://` link handed to the console and not yet shown,
    /// taken (a second call answers `None` until another link arrives).
    fn take_opened_link(&self) -> Option<OpenedLink>;
    /// Asks `feed` for a newer release; one found is downloaded and its
    /// signature verified against the key built into the app, then held for
    /// [`Shell::install_update`]. Never installs.
    fn check_update(&self, feed: url::Url) -> impl Future<Output = UpdateStatus> + Send;
    /// Installs the release the last check offered (verified then); refused
    /// when none is held.
    fn install_update(&self) -> impl Future<Output = Result<UpdateStatus, ConsoleError>> + Send;
}

/// Register an AI client with a generated secret; its credentials go to a file
/// the person chooses first (cancelled: nothing is registered).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterClientReq {
    pub client_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub owners: Vec<String>,
    /// The person accountable beside the owners.
    #[serde(default)]
    pub sponsor: Option<String>,
    /// Who takes over, in order, when the last owner leaves.
    #[serde(default)]
    pub successors: Vec<String>,
    pub redirect_uris: Vec<String>,
}

/// A new secret for a client, at the version the person saw; the previous
/// secret keeps working for `overlap` seconds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecretReq {
    pub client_id: String,
    pub version: i64,
    pub overlap: u64,
}

/// Retire a client, at the version the person saw, with a reason.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireClientReq {
    pub client_id: String,
    pub version: i64,
    pub reason: String,
}

/// Change a client (name, description, owners, redirect URIs) at the version
/// the person edited.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClientReq {
    pub client_id: String,
    pub version: i64,
    pub change: admin_api::UpdateClient,
}

/// New lifecycle policies, at the version the person edited.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPoliciesReq {
    pub version: i64,
    pub policies: LifecyclePolicies,
}

/// Change a resource app at the version the person edited.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateResourceAppReq {
    pub id: String,
    pub version: i64,
    pub change: admin_api::UpdateResourceApp,
}

/// Retire a resource app, at the version the person saw, with a reason.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetireResourceAppReq {
    pub id: String,
    pub version: i64,
    pub reason: String,
}

/// A save dialog: its title, the suggested file name and the one file type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveAs {
    pub title: &'static str,
    pub file_name: String,
    pub label: &'static str,
    pub ext: &'static str,
}

// ---- request types: one per command (some shared), unknown fields refused ----

/// A profile's update feed set, or cleared with `feed: null`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFeedReq {
    pub profile_id: String,
    pub feed: Option<String>,
}

/// A command that takes nothing.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// A command about one thing, named by its id.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ById {
    pub id: String,
}

/// The pending queue's filters (none: every pending request, oldest first).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRequestsReq {
    pub status: Option<RequestStatusFilter>,
    pub q: Option<String>,
    pub sort: Option<RequestSort>,
    pub risk: Option<Risk>,
}

/// Approve a request as seen at `etag`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveReq {
    pub id: String,
    pub etag: String,
    pub grant: ApproveRequest,
}

/// Deny a request as seen at `etag`, with the reason the audit log keeps.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyReq {
    pub id: String,
    pub etag: String,
    pub reason: String,
}

/// Suspend, resume or revoke a connection as seen at `etag`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionActionReq {
    pub id: String,
    pub etag: String,
    pub action: ConnectionAction,
    pub reason: String,
}

/// Snooze (until a date), acknowledge, mark a false positive or reopen a finding.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetFindingStateReq {
    pub id: String,
    pub state: FindingState,
    #[serde(default)]
    pub until: Option<i64>,
    pub reason: String,
}

/// Turn back on what a kill switch turned off, as seen at `version`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReinstateKillReq {
    pub id: String,
    pub version: i64,
    pub reason: String,
}

/// An owner's answer, as seen at `etag`: is the connection's approval still needed?
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AttestReq {
    pub id: String,
    pub etag: String,
    pub still_needed: bool,
    pub reason: String,
}

/// An approver's renewal decision on a connection as seen at `etag`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewReq {
    pub id: String,
    pub etag: String,
    pub decision: RenewalDecision,
    /// Unix seconds; absent: the policy's default lifetime from now.
    #[serde(default)]
    pub expires_at: Option<i64>,
    pub reason: String,
}

/// Narrow or otherwise change a connection as seen at `etag`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyConnectionReq {
    pub id: String,
    pub etag: String,
    pub change: ModifyConnection,
}

/// Export the whole audit log in `format`, to a file the person chooses.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportAuditReq {
    pub format: AuditExportFormat,
}

/// A new IdP profile: its name, issuer and the console's client id there.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddProfileReq {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
}

/// Sign in at this profile's IdP through the system browser.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileReq {
    pub profile_id: String,
}

/// Sign in with an admin API token, pasted once; it goes to the keychain and
/// never comes back.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenReq {
    pub profile_id: String,
    pub token: String,
}

impl std::fmt::Debug for ApiTokenReq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTokenReq")
            .field("profile_id", &self.profile_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The help desk's search box.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchReq {
    pub q: String,
}

/// A person, AI client or resource app, for the help desk.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetReq {
    pub kind: TargetKind,
    pub id: String,
}

/// The kill switch: every connection of the target, with a reason; `dry_run`
/// says what it would turn off without doing it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KillReq {
    pub kind: TargetKind,
    pub id: String,
    pub reason: String,
    pub dry_run: bool,
}

/// A campaign's items; `mine` keeps the signed-in reviewer's only.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewItemsReq {
    pub id: String,
    pub mine: bool,
    pub review_state: Option<ItemState>,
}

/// Decisions on items of campaign `id`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideItemsReq {
    pub id: String,
    pub body: ReviewDecisions,
}

/// Hand item `item` of campaign `id` to another reviewer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReassignReq {
    pub id: String,
    pub item: String,
    pub body: Reassign,
}

/// Save campaign `id`'s report in `format`, to a file the person chooses.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportReportReq {
    pub id: String,
    pub format: ReportFormat,
}

// ---- the handlers, in the list's order ----

pub async fn session(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<Option<SessionView>, ConsoleError> {
    c::session(c).await
}

pub async fn list_requests(
    c: &Console,
    _: &impl Shell,
    r: ListRequestsReq,
) -> Result<Page<RequestView>, ConsoleError> {
    c::list_requests(c, r).await
}

pub async fn get_request(
    c: &Console,
    _: &impl Shell,
    r: ById,
) -> Result<RequestDetail, ConsoleError> {
    c::get_request(c, &r.id).await
}

pub async fn request_context(
    c: &Console,
    _: &impl Shell,
    r: ById,
) -> Result<RequestContext, ConsoleError> {
    c::request_context(c, &r.id).await
}

pub async fn approve(
    c: &Console,
    _: &impl Shell,
    r: ApproveReq,
) -> Result<DecisionResult, ConsoleError> {
    c::approve(c, &r.id, &r.etag, &r.grant).await
}

pub async fn deny(c: &Console, _: &impl Shell, r: DenyReq) -> Result<DecisionResult, ConsoleError> {
    c::deny(c, &r.id, &r.etag, &r.reason).await
}

/// Re-authenticates with a second factor in the browser (the approver step-up).
pub async fn step_up(
    c: &Console,
    shell: &impl Shell,
    _: NoArgs,
) -> Result<SessionView, ConsoleError> {
    c.step_up(shell.opener()).await
}

pub async fn list_connections(
    c: &Console,
    _: &impl Shell,
    r: ConnectionQuery,
) -> Result<Page<ConnectionView>, ConsoleError> {
    c::list_connections(c, &r).await
}

pub async fn get_connection(
    c: &Console,
    _: &impl Shell,
    r: ById,
) -> Result<ConnectionDetail, ConsoleError> {
    c::get_connection(c, &r.id).await
}

pub async fn connection_action(
    c: &Console,
    _: &impl Shell,
    r: ConnectionActionReq,
) -> Result<ConnectionView, ConsoleError> {
    c::connection_action(c, &r.id, &r.etag, r.action, &r.reason).await
}

pub async fn findings(
    c: &Console,
    _: &impl Shell,
    r: FindingQuery,
) -> Result<Vec<FindingView>, ConsoleError> {
    Ok(c.admin().await?.findings(r.all.unwrap_or(false)).await?)
}

pub async fn set_finding_state(
    c: &Console,
    _: &impl Shell,
    r: SetFindingStateReq,
) -> Result<FindingView, ConsoleError> {
    let body = admin_api::FindingStateBody {
        state: r.state,
        until: r.until,
        reason: r.reason,
    };
    Ok(c.admin().await?.set_finding_state(&r.id, &body).await?)
}

pub async fn kills(c: &Console, _: &impl Shell, _: NoArgs) -> Result<Vec<KillView>, ConsoleError> {
    Ok(c.admin().await?.kills().await?)
}

pub async fn reinstate_kill(
    c: &Console,
    _: &impl Shell,
    r: ReinstateKillReq,
) -> Result<KillView, ConsoleError> {
    c::reinstate_kill(c, &r.id, r.version, &r.reason).await
}

pub async fn attest_connection(
    c: &Console,
    _: &impl Shell,
    r: AttestReq,
) -> Result<ConnectionView, ConsoleError> {
    let body = AttestBody {
        still_needed: r.still_needed,
        reason: r.reason,
    };
    c::attest_connection(c, &r.id, &r.etag, &body).await
}

pub async fn renew_connection(
    c: &Console,
    _: &impl Shell,
    r: RenewReq,
) -> Result<ConnectionView, ConsoleError> {
    let body = RenewBody {
        decision: r.decision,
        expires_at: r.expires_at,
        reason: r.reason,
    };
    c::renew_connection(c, &r.id, &r.etag, &body).await
}

pub async fn modify_connection(
    c: &Console,
    _: &impl Shell,
    r: ModifyConnectionReq,
) -> Result<ConnectionView, ConsoleError> {
    c::modify_connection(c, &r.id, &r.etag, &r.change).await
}

pub async fn audit(
    c: &Console,
    _: &impl Shell,
    r: AuditQuery,
) -> Result<Page<AuditEventView>, ConsoleError> {
    c::audit(c, &r).await
}

pub async fn verify_audit(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<ChainReportView, ConsoleError> {
    c::verify_audit(c).await
}

/// Asks where to save, then writes the export there; `None` when the person
/// cancels.
pub async fn export_audit(
    c: &Console,
    shell: &impl Shell,
    r: ExportAuditReq,
) -> Result<Option<ExportSummary>, ConsoleError> {
    let (label, ext) = match r.format {
        AuditExportFormat::Csv => ("CSV", "csv"),
        AuditExportFormat::Jsonl => ("JSON Lines", "jsonl"),
    };
    let save = SaveAs {
        title: "Export the audit log",
        file_name: format!("gatehouse-audit.{ext}"),
        label,
        ext,
    };
    let Some(path) = shell.choose_save_path(save).await? else {
        return Ok(None);
    };
    c::export_audit(c, r.format, &path).await.map(Some)
}

/// Locks now: drops the in-memory tokens (the idle lock does the same by itself).
pub async fn lock(c: &Console, _: &impl Shell, _: NoArgs) -> Result<(), ConsoleError> {
    c.lock().await;
    Ok(())
}

/// Unlocks from the keychain (no browser needed while the refresh token is good).
pub async fn unlock(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<Option<SessionView>, ConsoleError> {
    let Some(view) = c.view().await else {
        return Err(ConsoleError::new(
            ErrorCode::NotSignedIn,
            "Sign in to an IdP first.",
        ));
    };
    c.restore(&view.profile_id).await
}

pub async fn idp_status(
    _: &Console,
    shell: &impl Shell,
    _: NoArgs,
) -> Result<IdpStatus, ConsoleError> {
    Ok(shell.idp_status())
}

pub async fn start_up_problem(
    _: &Console,
    shell: &impl Shell,
    _: NoArgs,
) -> Result<Option<ConsoleError>, ConsoleError> {
    Ok(shell.start_up_problem())
}

pub async fn opened_link(
    _: &Console,
    shell: &impl Shell,
    _: NoArgs,
) -> Result<Option<OpenedLink>, ConsoleError> {
    Ok(shell.take_opened_link())
}

pub async fn profiles(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<Vec<ProfileView>, ConsoleError> {
    c::profiles(c).await
}

pub async fn add_profile(
    c: &Console,
    _: &impl Shell,
    r: AddProfileReq,
) -> Result<ProfileAdded, ConsoleError> {
    c::add_profile(c, &r.name, &r.issuer, &r.client_id).await
}

pub async fn remove_profile(c: &Console, _: &impl Shell, r: ById) -> Result<(), ConsoleError> {
    c::remove_profile(c, &r.id).await
}

/// Sets a profile's update feed (checked: `https`, no credentials).
pub async fn set_update_feed(
    c: &Console,
    _: &impl Shell,
    r: UpdateFeedReq,
) -> Result<ProfileView, ConsoleError> {
    let feed = match r.feed.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) => Some(crate::updates::checked_feed(f)?.to_string()),
    };
    let (profile, saved) = c.set_update_feed(&r.profile_id, feed).await?;
    let active = c.view().await.is_some_and(|v| v.profile_id == profile.id);
    Ok(ProfileView {
        profile,
        saved,
        active,
    })
}

/// Checks the active profile's update feed; never installs.
pub async fn check_update(
    c: &Console,
    shell: &impl Shell,
    _: NoArgs,
) -> Result<UpdateStatus, ConsoleError> {
    let Some(feed) = c.active_update_feed().await else {
        return Ok(UpdateStatus::NoFeed);
    };
    Ok(shell
        .check_update(crate::updates::checked_feed(&feed)?)
        .await)
}

/// Installs the release the last check offered, on the person's say-so.
pub async fn install_update(
    _: &Console,
    shell: &impl Shell,
    _: NoArgs,
) -> Result<UpdateStatus, ConsoleError> {
    shell.install_update().await
}

/// Signs in through the system browser (RFC 8252 loopback + PKCE).
pub async fn sign_in_browser(
    c: &Console,
    shell: &impl Shell,
    r: ProfileReq,
) -> Result<SessionView, ConsoleError> {
    let view = c
        .sign_in_browser(&r.profile_id, false, shell.opener())
        .await?;
    shell.session_changed();
    Ok(view)
}

/// Signs in through the browser with the session kept in memory only, for a
/// person whose keychain is locked or absent: it lasts until the console
/// closes, and from then on nothing of this run goes to the keychain.
pub async fn sign_in_unsaved(
    c: &Console,
    shell: &impl Shell,
    r: ProfileReq,
) -> Result<SessionView, ConsoleError> {
    c.keep_secrets_in_memory();
    let view = c
        .sign_in_browser(&r.profile_id, false, shell.opener())
        .await?;
    shell.session_changed();
    Ok(view)
}

pub async fn sign_in_api_token(
    c: &Console,
    shell: &impl Shell,
    r: ApiTokenReq,
) -> Result<SessionView, ConsoleError> {
    let view = c::sign_in_api_token(c, &r.profile_id, &r.token).await?;
    shell.session_changed();
    Ok(view)
}

pub async fn sign_out(c: &Console, shell: &impl Shell, _: NoArgs) -> Result<(), ConsoleError> {
    c::sign_out(c).await?;
    shell.session_changed();
    Ok(())
}

pub async fn helpdesk_search(
    c: &Console,
    _: &impl Shell,
    r: SearchReq,
) -> Result<HelpdeskView, ConsoleError> {
    helpdesk::search(c, &r.q).await
}

pub async fn helpdesk_lookup(
    c: &Console,
    _: &impl Shell,
    r: TargetReq,
) -> Result<HelpdeskView, ConsoleError> {
    helpdesk::lookup(c, r.kind, &r.id).await
}

pub async fn helpdesk_kill(
    c: &Console,
    _: &impl Shell,
    r: KillReq,
) -> Result<KillResult, ConsoleError> {
    helpdesk::kill(c, r.kind, &r.id, &r.reason, r.dry_run).await
}

/// Asks where to save the evidence bundle, then writes it; `None` when the
/// person cancels, else the bytes written.
pub async fn export_evidence(
    c: &Console,
    shell: &impl Shell,
    r: TargetReq,
) -> Result<Option<usize>, ConsoleError> {
    let save = SaveAs {
        title: "Save the evidence bundle",
        file_name: format!("gatehouse-evidence-{}.json", r.id),
        label: "JSON",
        ext: "json",
    };
    let Some(path) = shell.choose_save_path(save).await? else {
        return Ok(None);
    };
    c::export_evidence(c, r.kind, &r.id, &path).await.map(Some)
}

pub async fn campaigns(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<Vec<CampaignView>, ConsoleError> {
    c::campaigns(c).await
}

pub async fn create_campaign(
    c: &Console,
    _: &impl Shell,
    r: CreateCampaign,
) -> Result<CampaignView, ConsoleError> {
    c::create_campaign(c, &r).await
}

pub async fn review_items(
    c: &Console,
    _: &impl Shell,
    r: ReviewItemsReq,
) -> Result<Page<ReviewItemView>, ConsoleError> {
    c::review_items(c, &r.id, r.mine, r.review_state).await
}

pub async fn decide_items(
    c: &Console,
    _: &impl Shell,
    r: DecideItemsReq,
) -> Result<Vec<ReviewItemView>, ConsoleError> {
    c::decide_items(c, &r.id, &r.body).await
}

pub async fn reassign_item(
    c: &Console,
    _: &impl Shell,
    r: ReassignReq,
) -> Result<ReviewItemView, ConsoleError> {
    c::reassign_item(c, &r.id, &r.item, &r.body).await
}

pub async fn policies(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<PoliciesView, ConsoleError> {
    c::policies(c).await
}

pub async fn set_policies(
    c: &Console,
    _: &impl Shell,
    r: SetPoliciesReq,
) -> Result<PoliciesView, ConsoleError> {
    c::set_policies(c, r.version, &r.policies).await
}

pub async fn run_policies(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<PolicyRunReport, ConsoleError> {
    c::run_policies(c).await
}

pub async fn notification_channels(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<Vec<ChannelView>, ConsoleError> {
    c::notification_channels(c).await
}

/// A webhook: asks where to save its signing secret first (`None`, nothing
/// created, when the person cancels); a Slack channel has no secret to save.
pub async fn create_notification_channel(
    c: &Console,
    shell: &impl Shell,
    r: CreateChannel,
) -> Result<Option<ChannelSaved>, ConsoleError> {
    let path = match r.kind {
        ChannelKind::Webhook => {
            let Some(p) = shell.choose_save_path(secret_file(&r.name)).await? else {
                return Ok(None);
            };
            Some(p)
        }
        ChannelKind::Slack => None,
    };
    c::create_notification_channel(c, &r, path.as_deref())
        .await
        .map(Some)
}

pub async fn delete_notification_channel(
    c: &Console,
    _: &impl Shell,
    r: ById,
) -> Result<(), ConsoleError> {
    c::delete_notification_channel(c, &r.id).await
}

pub async fn notification_deliveries(
    c: &Console,
    _: &impl Shell,
    r: ById,
) -> Result<Vec<DeliveryView>, ConsoleError> {
    c::notification_deliveries(c, &r.id).await
}

pub async fn complete_campaign(
    c: &Console,
    _: &impl Shell,
    r: ById,
) -> Result<CampaignView, ConsoleError> {
    c::complete_campaign(c, &r.id).await
}

/// Asks where to save the campaign report, then writes it; `None` when the
/// person cancels, else the bytes written.
pub async fn export_report(
    c: &Console,
    shell: &impl Shell,
    r: ExportReportReq,
) -> Result<Option<usize>, ConsoleError> {
    let (label, ext) = match r.format {
        ReportFormat::Csv => ("CSV", "csv"),
        ReportFormat::Pdf => ("PDF", "pdf"),
    };
    let save = SaveAs {
        title: "Save the campaign report",
        file_name: format!("access-review-{}.{ext}", r.id),
        label,
        ext,
    };
    let Some(path) = shell.choose_save_path(save).await? else {
        return Ok(None);
    };
    c::export_report(c, &r.id, r.format, &path).await.map(Some)
}

pub async fn overview(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<OverviewView, ConsoleError> {
    c::overview(c).await
}

/// The save dialog for a client's credentials file.
/// A file name stem from a display name: lower-case letters and digits, dashes.
fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

fn credentials_file(client: &str) -> SaveAs {
    SaveAs {
        title: "Save the client's credentials (the secret is shown nowhere else)",
        file_name: format!("{}.credentials", file_stem(client)),
        label: "Credentials",
        ext: "credentials",
    }
}

fn secret_file(channel: &str) -> SaveAs {
    SaveAs {
        title: "Save the webhook's signing secret (it is shown nowhere else)",
        file_name: format!("{}.webhook-secret", file_stem(channel)),
        label: "Webhook secret",
        ext: "webhook-secret",
    }
}

/// Asks where to save the credentials, then registers the client and writes
/// them there; `None` (nothing registered) when the person cancels.
pub async fn register_client(
    c: &Console,
    shell: &impl Shell,
    r: RegisterClientReq,
) -> Result<Option<ClientSaved>, ConsoleError> {
    let Some(path) = shell
        .choose_save_path(credentials_file(r.client_id.as_deref().unwrap_or(&r.name)))
        .await?
    else {
        return Ok(None);
    };
    let req = admin_api::RegisterClient {
        client_id: r.client_id.filter(|id| !id.trim().is_empty()),
        name: r.name,
        description: r.description,
        owners: r.owners,
        sponsor: r.sponsor.filter(|s| !s.trim().is_empty()),
        successors: r.successors,
        redirect_uris: r.redirect_uris,
        credential: admin_api::ClientCredential::ClientSecret,
    };
    c::register_client(c, &req, &path).await.map(Some)
}

/// Asks where to save the new credentials, then rotates; `None` (nothing
/// rotated) when the person cancels.
pub async fn rotate_client_secret(
    c: &Console,
    shell: &impl Shell,
    r: RotateSecretReq,
) -> Result<Option<ClientSaved>, ConsoleError> {
    let Some(path) = shell
        .choose_save_path(credentials_file(&r.client_id))
        .await?
    else {
        return Ok(None);
    };
    c::rotate_client_secret(c, &r.client_id, r.version, r.overlap, &path)
        .await
        .map(Some)
}

pub async fn update_client(
    c: &Console,
    _: &impl Shell,
    r: UpdateClientReq,
) -> Result<ClientView, ConsoleError> {
    c::update_client(c, &r.client_id, r.version, &r.change).await
}

pub async fn retire_client(
    c: &Console,
    _: &impl Shell,
    r: RetireClientReq,
) -> Result<ClientView, ConsoleError> {
    c::retire_client(c, &r.client_id, r.version, &r.reason).await
}

pub async fn register_resource_app(
    c: &Console,
    _: &impl Shell,
    r: RegisterResourceApp,
) -> Result<ResourceAppView, ConsoleError> {
    c::register_resource_app(c, &r).await
}

pub async fn update_resource_app(
    c: &Console,
    _: &impl Shell,
    r: UpdateResourceAppReq,
) -> Result<ResourceAppView, ConsoleError> {
    c::update_resource_app(c, &r.id, r.version, &r.change).await
}

pub async fn retire_resource_app(
    c: &Console,
    _: &impl Shell,
    r: RetireResourceAppReq,
) -> Result<ResourceAppView, ConsoleError> {
    c::retire_resource_app(c, &r.id, r.version, &r.reason).await
}

pub async fn directory(
    c: &Console,
    _: &impl Shell,
    _: NoArgs,
) -> Result<DirectoryView, ConsoleError> {
    c::directory(c).await
}

// ---- the schema of every command, for the UI's client ----

macro_rules! command_schemas {
    ( $( $name:ident ( $req:ty ) -> $res:ty ),* $(,)? ) => {
        /// `Commands`: for each command, the schema of its request and of its
        /// response, as the UI's `call()` is typed from.
        pub fn command_schemas(g: &mut SchemaGenerator) -> serde_json::Value {
            let mut commands = serde_json::Map::new();
            $(
                commands.insert(stringify!($name).into(), serde_json::json!({
                    "type": "object",
                    "properties": {
                        "request": g.subschema_for::<$req>(),
                        "response": g.subschema_for::<$res>(),
                    },
                    "required": ["request", "response"],
                    "additionalProperties": false,
                }));
            )*
            let names: Vec<&str> = vec![$(stringify!($name)),*];
            serde_json::json!({
                "description": "Every IPC command: its request and response (generated from ipc_commands::with_commands).",
                "type": "object",
                "properties": commands,
                "required": names,
                "additionalProperties": false,
            })
        }
    };
}
ipc_commands::with_commands!(command_schemas);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_outside_the_declaration_is_refused() {
        let refused = [
            serde_json::from_value::<ListRequestsReq>(json!({"sort": "shoe_size"})).err(),
            serde_json::from_value::<ById>(json!({"id": "x", "bogus": 1})).err(),
            serde_json::from_value::<ConnectionActionReq>(
                json!({"id": "x", "etag": "\"v1\"", "action": "delete", "reason": "r"}),
            )
            .err(),
            serde_json::from_value::<ExportAuditReq>(json!({"format": "xml"})).err(),
            serde_json::from_value::<KillReq>(json!({"kind": "user", "id": "x", "reason": "r"}))
                .err(),
        ];
        for (i, e) in refused.iter().enumerate() {
            assert!(e.is_some(), "case {i} was accepted");
        }
        let ok: ListRequestsReq = serde_json::from_value(json!({"sort": "-age", "risk": null}))
            .expect("the queue's own filters");
        assert_eq!(ok.sort, Some(RequestSort::NewestFirst));
        assert_eq!(ok.risk, None);
    }

    #[test]
    fn the_api_token_request_never_prints_its_token() {
        let r: ApiTokenReq =
            serde_json::from_value(json!({"profile_id": "p", "token": "gh_adm_s3cret"})).unwrap();
        assert!(!format!("{r:?}").contains("gh_adm_s3cret"));
    }

    #[test]
    fn the_schema_has_every_declared_command_and_nothing_else() {
        let mut g = schemars::generate::SchemaSettings::draft2020_12().into_generator();
        let s = command_schemas(&mut g);
        let mut names: Vec<&str> = s["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut declared = ipc_commands::NAMES.to_vec();
        names.sort_unstable();
        declared.sort_unstable();
        assert_eq!(names, declared);
    }

    /// A named fake of the window: the person cancels every save dialog.
    struct CancelsEveryDialog;

    impl Shell for CancelsEveryDialog {
        async fn choose_save_path(&self, _: SaveAs) -> Result<Option<PathBuf>, ConsoleError> {
            Ok(None)
        }
        fn opener(&self) -> OpenUrl {
            std::sync::Arc::new(|_| Ok(()))
        }
        fn session_changed(&self) {}
        fn idp_status(&self) -> IdpStatus {
            IdpStatus {
                reachable: true,
                message: None,
            }
        }
        fn start_up_problem(&self) -> Option<ConsoleError> {
            None
        }
        fn take_opened_link(&self) -> Option<OpenedLink> {
            None
        }
        async fn check_update(&self, _: url::Url) -> UpdateStatus {
            UpdateStatus::Unreachable
        }
        async fn install_update(&self) -> Result<UpdateStatus, ConsoleError> {
            Err(ConsoleError::new(
                ErrorCode::NotFound,
                "No update to install.",
            ))
        }
    }

    #[tokio::test]
    async fn a_cancelled_save_dialog_exports_nothing_and_is_no_error() {
        let dir = std::env::temp_dir().join(format!("gh-rpc-{}", std::process::id()));
        let console = Console::new(
            crate::ProfileStore::new(dir.join("profiles.json")),
            std::sync::Arc::new(crate::MemoryStore::default()),
            std::time::Duration::from_secs(60),
        );
        let shell = CancelsEveryDialog;
        let audit = ExportAuditReq {
            format: AuditExportFormat::Csv,
        };
        // Not signed in: the dialog comes first, so a cancel never reaches the IdP.
        assert_eq!(export_audit(&console, &shell, audit).await.unwrap(), None);
        let report = ExportReportReq {
            id: "c1".into(),
            format: ReportFormat::Pdf,
        };
        assert_eq!(export_report(&console, &shell, report).await.unwrap(), None);
        assert!(!dir.exists(), "nothing written");
    }
}
