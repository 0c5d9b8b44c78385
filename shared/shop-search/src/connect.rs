//! Engine selection from a function's configuration, shared by `catalog` (reads) and
//! `catalog-indexer` (writes).
//!
//! | variable | meaning |
//! |---|---|
//! | `SEARCH_ENGINE` | `opensearch` (AWS) or `tantivy` (local runs) |
//! | `OPENSEARCH_ENDPOINT` | `https://…` endpoint of the domain (opensearch); requests are SigV4-signed (service `es`) with the function's credentials |
//! | `SEARCH_INDEX` | index name (opensearch), default `products` |
//! | `SEARCH_INDEX_DIR` | directory of the embedded index (tantivy) |

use std::path::PathBuf;
use std::sync::Arc;

use crate::{SearchEngine, SearchError};

/// Which engine to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineConfig {
    /// The embedded tantivy index in `dir` (created when missing).
    Tantivy { dir: PathBuf },
    /// An OpenSearch domain.
    OpenSearch { endpoint: String, index: String },
}

/// A configuration variable is missing or invalid; start-up stops with its name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl EngineConfig {
    /// Reads the variables above through `env` (the process environment in Lambda, a function's
    /// resolved template environment in the local runner).
    pub fn from_lookup(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let missing = |name: &'static str| ConfigError { name, reason: "is not set".into() };
        match get("SEARCH_ENGINE").as_deref() {
            Some("tantivy") => {
                Ok(Self::Tantivy { dir: PathBuf::from(get("SEARCH_INDEX_DIR").ok_or_else(|| missing("SEARCH_INDEX_DIR"))?) })
            }
            Some("opensearch") => {
                let endpoint = get("OPENSEARCH_ENDPOINT").ok_or_else(|| missing("OPENSEARCH_ENDPOINT"))?;
                let endpoint = if endpoint.contains("://") { endpoint } else { format!("https://{endpoint}") };
                Ok(Self::OpenSearch { endpoint, index: get("SEARCH_INDEX").unwrap_or_else(|| "products".into()) })
            }
            Some(other) => {
                Err(ConfigError { name: "SEARCH_ENGINE", reason: format!("unknown engine {other:?} (use opensearch or tantivy)") })
            }
            None => Err(missing("SEARCH_ENGINE")),
        }
    }
}

/// Opens the configured engine. `sdk` supplies region and credentials for SigV4 (OpenSearch).
///
/// Tantivy indexes are opened once per directory and process (tantivy allows one writer per
/// index), so the local runner's catalog and catalog-indexer share one engine.
pub async fn connect(config: &EngineConfig, sdk: &aws_config::SdkConfig) -> Result<Arc<dyn SearchEngine>, SearchError> {
    match config {
        #[cfg(feature = "tantivy")]
        EngineConfig::Tantivy { dir } => Ok(Arc::new(crate::TantivyEngine::shared(dir)?)),
        #[cfg(not(feature = "tantivy"))]
        EngineConfig::Tantivy { .. } => Err(SearchError::Engine("this build has no tantivy engine (feature `tantivy`)".into())),
        #[cfg(feature = "opensearch")]
        EngineConfig::OpenSearch { endpoint, index } => Ok(Arc::new(crate::OpenSearchEngine::aws(endpoint, index, sdk)?)),
        #[cfg(not(feature = "opensearch"))]
        EngineConfig::OpenSearch { .. } => {
            let _ = sdk;
            Err(SearchError::Engine("this build has no OpenSearch engine (feature `opensearch`)".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn engines_are_chosen_and_missing_variables_named() {
        assert_eq!(
            EngineConfig::from_lookup(&lookup(&[("SEARCH_ENGINE", "tantivy"), ("SEARCH_INDEX_DIR", "/tmp/x")])),
            Ok(EngineConfig::Tantivy { dir: "/tmp/x".into() })
        );
        assert_eq!(
            EngineConfig::from_lookup(&lookup(&[
                ("SEARCH_ENGINE", "opensearch"),
                ("OPENSEARCH_ENDPOINT", "search-x.eu-west-1.es.amazonaws.com")
            ])),
            Ok(EngineConfig::OpenSearch { endpoint: "https://search-x.eu-west-1.es.amazonaws.com".into(), index: "products".into() })
        );
        assert_eq!(EngineConfig::from_lookup(&lookup(&[("SEARCH_ENGINE", "tantivy")])).unwrap_err().name, "SEARCH_INDEX_DIR");
        assert_eq!(EngineConfig::from_lookup(&lookup(&[("SEARCH_ENGINE", "opensearch")])).unwrap_err().name, "OPENSEARCH_ENDPOINT");
        assert_eq!(EngineConfig::from_lookup(&lookup(&[("SEARCH_ENGINE", "solr")])).unwrap_err().name, "SEARCH_ENGINE");
        assert_eq!(EngineConfig::from_lookup(&lookup(&[])).unwrap_err().name, "SEARCH_ENGINE");
    }
}
