//! Vendor behaviours as data: rules loaded from `stdlib/sim/controllers/*.yaml`.

use serde_json::Value;

use super::cluster::Cluster;
use super::controllers::{Key, Outcome};
use super::resources::ResKey;

/// Errors loading rules.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot parse simulator rules `{file}`: {source}")]
    Parse {
        file: String,
        #[source]
        source: serde_yaml::Error,
    },
}

/// The loaded rules.
#[derive(Default)]
pub struct Rules {}

impl Rules {
    pub fn bundled() -> Result<Rules, RulesError> {
        Ok(Rules::default())
    }

    pub(crate) fn watchers(&self, _c: &Cluster, _res: &ResKey, _obj: &Value) -> Vec<Key> {
        vec![]
    }

    pub(crate) fn reconcile(&self, _c: &Cluster, _res: &ResKey, _obj: &Value) -> Outcome {
        Outcome::Done
    }
}
