//! Which internal storage a process uses: local disk (default) or an S3-compatible bucket,
//! from a configuration value or `SAKER_STORAGE_*` environment variables (see `docs/storage.md`).

use std::path::PathBuf;
use std::sync::Arc;

use saker_task::StorageError;

use crate::local::{FileStore, LocalStorage};
use crate::s3::{S3Config, S3Storage};

/// The internal-storage backend and its settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StorageConfig {
    /// Files under `basePath`.
    #[serde(rename_all = "camelCase")]
    Local { base_path: PathBuf },
    /// Objects in an S3-compatible bucket.
    S3(S3Config),
}

impl StorageConfig {
    /// Reads `SAKER_STORAGE_TYPE` (`local` or `s3`) and its settings from `vars`; `None` when
    /// no type is set (the caller picks its default).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Option<StorageConfig>, StorageError> {
        let vars: std::collections::BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("SAKER_STORAGE_"))
            .collect();
        let get = |name: &str| vars.get(&format!("SAKER_STORAGE_{name}")).cloned();
        let Some(kind) = get("TYPE") else {
            return Ok(None);
        };
        match kind.to_ascii_lowercase().as_str() {
            "local" => {
                let base_path = get("LOCAL_BASE_PATH").ok_or_else(|| {
                    StorageError::Backend(
                        "SAKER_STORAGE_TYPE=local needs SAKER_STORAGE_LOCAL_BASE_PATH".to_owned(),
                    )
                })?;
                Ok(Some(StorageConfig::Local {
                    base_path: base_path.into(),
                }))
            }
            "s3" => {
                let bucket = get("S3_BUCKET").ok_or_else(|| {
                    StorageError::Backend(
                        "SAKER_STORAGE_TYPE=s3 needs SAKER_STORAGE_S3_BUCKET".to_owned(),
                    )
                })?;
                let path_style = match get("S3_PATH_STYLE").as_deref() {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(other) => {
                        return Err(StorageError::Backend(format!(
                            "SAKER_STORAGE_S3_PATH_STYLE must be true or false, not '{other}'"
                        )));
                    }
                };
                Ok(Some(StorageConfig::S3(S3Config {
                    bucket,
                    region: get("S3_REGION"),
                    endpoint: get("S3_ENDPOINT"),
                    access_key: get("S3_ACCESS_KEY"),
                    secret_key: get("S3_SECRET_KEY"),
                    session_token: get("S3_SESSION_TOKEN"),
                    path_style,
                    prefix: get("S3_PREFIX"),
                })))
            }
            other => Err(StorageError::Backend(format!(
                "unknown SAKER_STORAGE_TYPE '{other}': expected local or s3"
            ))),
        }
    }

    /// [`from_vars`](Self::from_vars) over the process environment.
    pub fn from_env() -> Result<Option<StorageConfig>, StorageError> {
        Self::from_vars(std::env::vars())
    }

    /// Opens the backend (S3 connects lazily, on first use).
    pub fn open(&self) -> Result<Arc<dyn FileStore>, StorageError> {
        Ok(match self {
            StorageConfig::Local { base_path } => Arc::new(LocalStorage::new(base_path)),
            StorageConfig::S3(config) => Arc::new(S3Storage::new(config.clone())?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn from_vars_and_serde() {
        assert_eq!(
            StorageConfig::from_vars(vars(&[("HOME", "/")])).unwrap(),
            None
        );
        let s3 = StorageConfig::from_vars(vars(&[
            ("SAKER_STORAGE_TYPE", "s3"),
            ("SAKER_STORAGE_S3_BUCKET", "b"),
            ("SAKER_STORAGE_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("SAKER_STORAGE_S3_PATH_STYLE", "true"),
        ]))
        .unwrap()
        .unwrap();
        let StorageConfig::S3(config) = &s3 else {
            panic!("{s3:?}")
        };
        assert_eq!(config.bucket, "b");
        assert_eq!(config.path_style, Some(true));
        assert!(s3.open().is_ok());
        let error = StorageConfig::from_vars(vars(&[("SAKER_STORAGE_TYPE", "s3")])).unwrap_err();
        assert!(error.to_string().contains("SAKER_STORAGE_S3_BUCKET"));
        assert!(StorageConfig::from_vars(vars(&[("SAKER_STORAGE_TYPE", "gcs")])).is_err());
        let parsed: StorageConfig =
            serde_json::from_str(r#"{"type": "local", "basePath": "/data"}"#).unwrap();
        assert_eq!(
            parsed,
            StorageConfig::Local {
                base_path: "/data".into()
            }
        );
        let parsed: StorageConfig = serde_json::from_str(
            r#"{"type": "s3", "bucket": "x", "region": "eu-west-1", "pathStyle": false}"#,
        )
        .unwrap();
        assert!(matches!(
            parsed,
            StorageConfig::S3(S3Config {
                path_style: Some(false),
                ..
            })
        ));
    }
}
