//! The console's IPC commands, declared once. Every command is one line here:
//! its name, its request type (one struct, never positional arguments) and its
//! response type. From this list come the shell's Tauri forwards and handler
//! list, the console's schema of requests and responses (from which the UI's
//! TypeScript client is typed), the permission list `build.rs` hands to
//! Tauri, and the test that pins the capability file — so a command cannot be
//! added, renamed or re-typed in one place and not the others.
//!
//! The types are tokens here, resolved where the list is expanded (each
//! expansion site has `console::rpc::*` in scope): this crate has no
//! dependencies, so `build.rs` can use [`NAMES`] without building the console.
//! Each command stays its own Tauri command, so the per-command permission in
//! the capability file remains the access control.

/// Hands the command list to `$callback`, a macro taking
/// `name(Request) -> Response` triples, comma separated.
#[macro_export]
macro_rules! with_commands {
    ($callback:ident) => {
        $callback! {
            session(NoArgs) -> Option<SessionView>,
            list_requests(ListRequestsReq) -> Page<RequestView>,
            get_request(ById) -> RequestDetail,
            request_context(ById) -> RequestContext,
            approve(ApproveReq) -> DecisionResult,
            deny(DenyReq) -> DecisionResult,
            step_up(NoArgs) -> SessionView,
            list_connections(ConnectionQuery) -> Page<ConnectionView>,
            get_connection(ById) -> ConnectionDetail,
            connection_action(ConnectionActionReq) -> ConnectionView,
            modify_connection(ModifyConnectionReq) -> ConnectionView,
            attest_connection(AttestReq) -> ConnectionView,
            renew_connection(RenewReq) -> ConnectionView,
            audit(AuditQuery) -> Page<AuditEventView>,
            verify_audit(NoArgs) -> ChainReportView,
            export_audit(ExportAuditReq) -> Option<ExportSummary>,
            lock(NoArgs) -> (),
            unlock(NoArgs) -> Option<SessionView>,
            idp_status(NoArgs) -> IdpStatus,
            start_up_problem(NoArgs) -> Option<ConsoleError>,
            opened_link(NoArgs) -> Option<OpenedLink>,
            profiles(NoArgs) -> Vec<ProfileView>,
            add_profile(AddProfileReq) -> ProfileAdded,
            remove_profile(ById) -> (),
            set_update_feed(UpdateFeedReq) -> ProfileView,
            check_update(NoArgs) -> UpdateStatus,
            install_update(NoArgs) -> UpdateStatus,
            sign_in_browser(ProfileReq) -> SessionView,
            sign_in_api_token(ApiTokenReq) -> SessionView,
            sign_in_unsaved(ProfileReq) -> SessionView,
            sign_out(NoArgs) -> (),
            helpdesk_search(SearchReq) -> HelpdeskView,
            helpdesk_lookup(TargetReq) -> HelpdeskView,
            helpdesk_kill(KillReq) -> KillResult,
            kills(NoArgs) -> Vec<KillView>,
            findings(FindingQuery) -> Vec<FindingView>,
            set_finding_state(SetFindingStateReq) -> FindingView,
            reinstate_kill(ReinstateKillReq) -> KillView,
            export_evidence(TargetReq) -> Option<usize>,
            campaigns(NoArgs) -> Vec<CampaignView>,
            create_campaign(CreateCampaign) -> CampaignView,
            review_items(ReviewItemsReq) -> Page<ReviewItemView>,
            decide_items(DecideItemsReq) -> Vec<ReviewItemView>,
            reassign_item(ReassignReq) -> ReviewItemView,
            complete_campaign(ById) -> CampaignView,
            policies(NoArgs) -> PoliciesView,
            set_policies(SetPoliciesReq) -> PoliciesView,
            run_policies(NoArgs) -> PolicyRunReport,
            notification_channels(NoArgs) -> Vec<ChannelView>,
            create_notification_channel(CreateChannel) -> Option<ChannelSaved>,
            delete_notification_channel(ById) -> (),
            notification_deliveries(ById) -> Vec<DeliveryView>,
            export_report(ExportReportReq) -> Option<usize>,
            overview(NoArgs) -> OverviewView,
            directory(NoArgs) -> DirectoryView,
            register_client(RegisterClientReq) -> Option<ClientSaved>,
            rotate_client_secret(RotateSecretReq) -> Option<ClientSaved>,
            update_client(UpdateClientReq) -> ClientView,
            retire_client(RetireClientReq) -> ClientView,
            register_resource_app(RegisterResourceApp) -> ResourceAppView,
            update_resource_app(UpdateResourceAppReq) -> ResourceAppView,
            retire_resource_app(RetireResourceAppReq) -> ResourceAppView,
        }
    };
}

macro_rules! names {
    ( $( $name:ident ( $req:ty ) -> $res:ty ),* $(,)? ) => {
        /// Every command's name, in the list's order.
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}
with_commands!(names);

/// The permission that lets a window call `command` (Tauri's generated
/// `allow-<kebab-case name>`).
pub fn permission(command: &str) -> String {
    format!("allow-{}", command.replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for n in NAMES {
            assert!(seen.insert(n), "{n} twice");
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{n}");
        }
        assert_eq!(permission("sign_in_api_token"), "allow-sign-in-api-token");
    }
}
