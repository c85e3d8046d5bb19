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
    sync::{Arc, RwLock},
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

/// The current snapshot, swappable.
#[derive(Default)]
pub struct Registry {
    current: RwLock<Arc<Catalog>>,
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
            .clone()
    }

    /// Reads every entry from the store into a new snapshot.
    pub async fn reload(&self, store: &Db) -> Result<(), sqlx::Error> {
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
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Arc::new(Catalog::new(clients, apps));
        Ok(())
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
