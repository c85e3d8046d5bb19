//! The AI clients and resource apps as the IdP serves them: loaded from the
//! store (where the config file's entries were seeded at a start when absent,
//! and the admin API writes) into one immutable snapshot that every request
//! reads without a query, replaced whole after a change commits here, or when
//! another node's change reaches this one through the change feed.

use crate::config::{Client, ResourceApp};
use idp_store::{
    Db,
    registry::{Entry, EntryWrite, Kind, Origin},
};
use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

/// A registered client or app with what the admin API shows beside it.
#[derive(Debug, Clone)]
pub struct Registered<T> {
    pub item: Arc<T>,
    pub origin: Origin,
    pub version: i64,
    pub retired_at: Option<i64>,
    pub updated_at: i64,
}

/// One consistent view of every client and app.
#[derive(Debug, Default)]
pub struct Catalog {
    pub clients: Vec<Registered<Client>>,
    pub apps: Vec<Registered<ResourceApp>>,
    live_clients: HashMap<String, Arc<Client>>,
    live_apps_by_audience: HashMap<String, Arc<ResourceApp>>,
    live_apps_by_id: HashMap<String, Arc<ResourceApp>>,
}

impl Catalog {
    fn new(clients: Vec<Registered<Client>>, apps: Vec<Registered<ResourceApp>>) -> Self {
        fn live<T>(r: &&Registered<T>) -> bool {
            r.retired_at.is_none()
        }
        Self {
            live_clients: clients
                .iter()
                .filter(live)
                .map(|c| (c.item.client_id.clone(), c.item.clone()))
                .collect(),
            live_apps_by_audience: apps
                .iter()
                .filter(live)
                .map(|a| (a.item.issuer.clone(), a.item.clone()))
                .collect(),
            live_apps_by_id: apps
                .iter()
                .filter(live)
                .map(|a| (a.item.id.clone(), a.item.clone()))
                .collect(),
            clients,
            apps,
        }
    }

    /// A client that is not retired.
    pub fn client(&self, client_id: &str) -> Option<Arc<Client>> {
        self.live_clients.get(client_id).cloned()
    }

    /// A resource app that is not retired, by its issuer (the exchange's audience).
    pub fn resource_app_by_audience(&self, audience: &str) -> Option<Arc<ResourceApp>> {
        self.live_apps_by_audience.get(audience).cloned()
    }

    /// A resource app that is not retired, by id.
    pub fn resource_app(&self, id: &str) -> Option<Arc<ResourceApp>> {
        self.live_apps_by_id.get(id).cloned()
    }

    /// Every live resource app.
    pub fn live_apps(&self) -> impl Iterator<Item = &Arc<ResourceApp>> {
        self.apps
            .iter()
            .filter(|a| a.retired_at.is_none())
            .map(|a| &a.item)
    }

    /// Every live client.
    pub fn live_clients(&self) -> impl Iterator<Item = &Arc<Client>> {
        self.clients
            .iter()
            .filter(|c| c.retired_at.is_none())
            .map(|c| &c.item)
    }
}

/// The current snapshot, swappable. Reloads overlap (a writer's after its
/// commit, the change feed's after a change it heard of): each takes a ticket
/// before it reads, and its snapshot replaces only an older ticket's, so a
/// reload that read before a commit never lands over one that read after it
/// (under load a client's succession was seen undone that way).
#[derive(Default)]
pub struct Registry {
    current: RwLock<(u64, Arc<Catalog>)>,
    tickets: AtomicU64,
}

fn parse<T: serde::de::DeserializeOwned>(e: Entry) -> Result<Registered<T>, sqlx::Error> {
    let item: T = serde_json::from_value(e.doc).map_err(|err| {
        sqlx::Error::Decode(format!("registry entry `{}` is not readable: {err}", e.key).into())
    })?;
    Ok(Registered {
        item: Arc::new(item),
        origin: e.origin,
        version: e.version,
        retired_at: e.retired_at,
        updated_at: e.updated_at,
    })
}

impl Registry {
    /// The snapshot requests read.
    pub fn get(&self) -> Arc<Catalog> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .1
            .clone()
    }

    /// Reads every entry from the store into a new snapshot.
    pub async fn reload(&self, store: &Db) -> Result<(), sqlx::Error> {
        let ticket = self.ticket();
        let clients = store
            .registry(Kind::Client)
            .await?
            .into_iter()
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        let apps = store
            .registry(Kind::App)
            .await?
            .into_iter()
            .map(parse)
            .collect::<Result<Vec<_>, _>>()?;
        self.install(ticket, Catalog::new(clients, apps));
        Ok(())
    }

    /// Taken before a reload reads: later tickets read later.
    fn ticket(&self) -> u64 {
        self.tickets.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Installs `catalog`, read under `ticket`, unless a later read is installed.
    fn install(&self, ticket: u64, catalog: Catalog) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ticket > current.0 {
            *current = (ticket, Arc::new(catalog));
        }
    }
}

/// Seeds the config's clients and apps that the store does not hold yet.
pub async fn seed(
    store: &Db,
    clients: &[Client],
    apps: &[ResourceApp],
    now: i64,
) -> Result<(), sqlx::Error> {
    let docs: Vec<(String, serde_json::Value)> = clients
        .iter()
        .map(|c| {
            (
                c.client_id.clone(),
                serde_json::to_value(c).unwrap_or_default(),
            )
        })
        .collect();
    let writes: Vec<EntryWrite<'_>> = docs
        .iter()
        .map(|(k, d)| EntryWrite {
            key: k,
            audience: None,
            doc: d,
        })
        .collect();
    store.seed_registry(Kind::Client, &writes, now).await?;
    let docs: Vec<(&ResourceApp, serde_json::Value)> = apps
        .iter()
        .map(|a| (a, serde_json::to_value(a).unwrap_or_default()))
        .collect();
    let writes: Vec<EntryWrite<'_>> = docs
        .iter()
        .map(|(a, d)| EntryWrite {
            key: &a.id,
            audience: Some(&a.issuer),
            doc: d,
        })
        .collect();
    store.seed_registry(Kind::App, &writes, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog with one client whose only owner is `owner`.
    fn owned_by(owner: &str) -> Catalog {
        let client: Client = serde_json::from_value(serde_json::json!({
            "client_id": "bot", "name": "Bot", "auth": {"method": "none"}, "owners": [owner],
        }))
        .unwrap();
        let registered = Registered {
            item: Arc::new(client),
            origin: Origin::Admin,
            version: 1,
            retired_at: None,
            updated_at: 0,
        };
        Catalog::new(vec![registered], vec![])
    }

    fn owner(r: &Registry) -> String {
        r.get().client("bot").unwrap().owners[0].clone()
    }

    #[test]
    fn a_reload_that_read_first_never_lands_over_one_that_read_after_it() {
        let r = Registry::default();
        let (before_commit, after_commit) = (r.ticket(), r.ticket());
        r.install(after_commit, owned_by("successor"));
        r.install(before_commit, owned_by("leaver"));
        assert_eq!(owner(&r), "successor", "the stale read was dropped");
        let later = r.ticket();
        r.install(later, owned_by("next"));
        assert_eq!(owner(&r), "next", "a later read replaces it");
    }
}
