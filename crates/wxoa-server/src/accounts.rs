//! The accounts one server answers for: one [`App`] per account, found by its callback path
//! or its name.

use std::sync::Arc;

use crate::app::App;

/// The Apps of a server, one per account, in config order (never empty).
#[derive(Debug, Clone)]
pub struct Accounts {
    apps: Vec<Arc<App>>,
}

impl Accounts {
    /// The Apps of several accounts; `None` when `apps` is empty.
    #[must_use]
    pub fn new(apps: Vec<Arc<App>>) -> Option<Self> {
        (!apps.is_empty()).then_some(Self { apps })
    }

    /// The first account's App (the one the console and `/readyz` use).
    #[must_use]
    pub fn first(&self) -> &Arc<App> {
        &self.apps[0]
    }

    /// Every App, in config order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<App>> {
        self.apps.iter()
    }

    /// The App whose callback path is `path`.
    #[must_use]
    pub fn by_path(&self, path: &str) -> Option<&Arc<App>> {
        self.apps.iter().find(|app| app.server().path == path)
    }

    /// The App of the account called `name`.
    #[must_use]
    pub fn by_name(&self, name: &str) -> Option<&Arc<App>> {
        self.apps.iter().find(|app| app.account().name == name)
    }
}

impl From<Arc<App>> for Accounts {
    fn from(app: Arc<App>) -> Self {
        Self { apps: vec![app] }
    }
}
