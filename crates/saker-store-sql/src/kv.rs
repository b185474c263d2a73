//! The namespace KV store, on the SQLite and the PostgreSQL store alike: the same SQL
//! ([`sql::KV_GET`]...) on the store's pools, written once as a macro over the store type.

use saker_core::Instant;
use saker_task::kv::{KvEntry, KvError, KvMeta, KvPut, KvStore, KvType, KvValue, validate_key};
use saker_task::task::BoxFuture;

use crate::codec::{instant_from_db, instant_to_db, option_instant_to_db};
use crate::rows::SqlRow;
use crate::sql;
use crate::{PgStore, SqliteStore};

fn backend(error: impl std::fmt::Display) -> KvError {
    KvError::Backend(error.to_string())
}

fn kind_to_db(kind: KvType) -> Result<String, KvError> {
    match serde_json::to_value(kind).map_err(backend)? {
        serde_json::Value::String(name) => Ok(name),
        other => Err(backend(format!("unexpected KV type encoding {other}"))),
    }
}

fn kind_from_db(name: String) -> Result<KvType, KvError> {
    serde_json::from_value(serde_json::Value::String(name)).map_err(backend)
}

macro_rules! kv_store {
    ($store:ty) => {
        impl $store {
            /// The entries a listing query (`$1` namespace, `$2` now) selects.
            async fn list_metas(
                &self,
                query: &'static str,
                namespace: &str,
                now: Instant,
            ) -> Result<Vec<KvMeta>, KvError> {
                sqlx::query(query)
                    .bind(namespace)
                    .bind(instant_to_db(now).map_err(backend)?)
                    .fetch_all(self.reader())
                    .await
                    .map_err(backend)?
                    .iter()
                    .map(|row| {
                        Ok(KvMeta {
                            key: row.text(0).map_err(backend)?,
                            description: row.opt_text(1).map_err(backend)?,
                            creation_date: instant_from_db(row.int(2).map_err(backend)?),
                            update_date: instant_from_db(row.int(3).map_err(backend)?),
                            expiration_date: row.opt_instant(4).map_err(backend)?,
                        })
                    })
                    .collect()
            }
        }

        impl KvStore for $store {
            fn get<'a>(
                &'a self,
                namespace: &'a str,
                key: &'a str,
                now: Instant,
            ) -> BoxFuture<'a, Result<Option<KvEntry>, KvError>> {
                Box::pin(async move {
                    let now_db = instant_to_db(now).map_err(backend)?;
                    let Some(row) = sqlx::query(sql::KV_GET)
                        .bind(namespace)
                        .bind(key)
                        .fetch_optional(self.reader())
                        .await
                        .map_err(backend)?
                    else {
                        return Ok(None);
                    };
                    let expiration = row.opt_int(5).map_err(backend)?;
                    if expiration.is_some_and(|at| at <= now_db) {
                        sqlx::query(sql::KV_DELETE_EXPIRED)
                            .bind(namespace)
                            .bind(key)
                            .bind(now_db)
                            .execute(self.writer())
                            .await
                            .map_err(backend)?;
                        return Err(KvError::Expired);
                    }
                    let value = row.text(1).map_err(backend)?;
                    Ok(Some(KvEntry {
                        value: KvValue {
                            kind: kind_from_db(row.text(0).map_err(backend)?)?,
                            value: serde_json::from_str(&value).map_err(backend)?,
                        },
                        meta: KvMeta {
                            key: key.to_owned(),
                            description: row.opt_text(2).map_err(backend)?,
                            creation_date: instant_from_db(row.int(3).map_err(backend)?),
                            update_date: instant_from_db(row.int(4).map_err(backend)?),
                            expiration_date: expiration.map(instant_from_db),
                        },
                    }))
                })
            }

            fn put<'a>(
                &'a self,
                namespace: &'a str,
                key: &'a str,
                entry: KvPut,
                now: Instant,
            ) -> BoxFuture<'a, Result<(), KvError>> {
                Box::pin(async move {
                    validate_key(key)?;
                    let written = sqlx::query(sql::KV_PUT)
                        .bind(namespace)
                        .bind(key)
                        .bind(kind_to_db(entry.value.kind)?)
                        .bind(serde_json::to_string(&entry.value.value).map_err(backend)?)
                        .bind(entry.description)
                        .bind(instant_to_db(now).map_err(backend)?)
                        .bind(option_instant_to_db(entry.expiration).map_err(backend)?)
                        .bind(entry.overwrite)
                        .execute(self.writer())
                        .await
                        .map_err(backend)?
                        .rows_affected();
                    if written == 0 {
                        return Err(KvError::AlreadyExists {
                            key: key.to_owned(),
                        });
                    }
                    Ok(())
                })
            }

            fn delete<'a>(
                &'a self,
                namespace: &'a str,
                key: &'a str,
            ) -> BoxFuture<'a, Result<bool, KvError>> {
                Box::pin(async move {
                    Ok(sqlx::query(sql::KV_DELETE)
                        .bind(namespace)
                        .bind(key)
                        .execute(self.writer())
                        .await
                        .map_err(backend)?
                        .rows_affected()
                        > 0)
                })
            }

            fn list<'a>(
                &'a self,
                namespace: &'a str,
                now: Instant,
            ) -> BoxFuture<'a, Result<Vec<KvMeta>, KvError>> {
                Box::pin(self.list_metas(sql::KV_LIST, namespace, now))
            }

            fn list_expired<'a>(
                &'a self,
                namespace: &'a str,
                now: Instant,
            ) -> BoxFuture<'a, Result<Vec<KvMeta>, KvError>> {
                Box::pin(self.list_metas(sql::KV_LIST_EXPIRED, namespace, now))
            }

            fn delete_expired<'a>(
                &'a self,
                namespace: &'a str,
                key: &'a str,
                now: Instant,
            ) -> BoxFuture<'a, Result<bool, KvError>> {
                Box::pin(async move {
                    Ok(sqlx::query(sql::KV_DELETE_EXPIRED)
                        .bind(namespace)
                        .bind(key)
                        .bind(instant_to_db(now).map_err(backend)?)
                        .execute(self.writer())
                        .await
                        .map_err(backend)?
                        .rows_affected()
                        > 0)
                })
            }

            fn namespaces(&self) -> BoxFuture<'_, Result<Vec<String>, KvError>> {
                Box::pin(async move {
                    sqlx::query(sql::KV_NAMESPACES)
                        .fetch_all(self.reader())
                        .await
                        .map_err(backend)?
                        .iter()
                        .map(|row| row.text(0).map_err(backend))
                        .collect()
                })
            }
        }
    };
}

kv_store!(SqliteStore);
kv_store!(PgStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stored_by_their_api_name() {
        assert_eq!(kind_to_db(KvType::Datetime).unwrap(), "DATETIME");
        assert_eq!(kind_from_db("JSON".to_owned()).unwrap(), KvType::Json);
        assert!(kind_from_db("NOPE".to_owned()).is_err());
    }
}
