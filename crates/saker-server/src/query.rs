//! Query strings with repeated keys (`labels=a:1&labels=b:2`, `state=FAILED&state=KILLED`), which
//! axum's `Query` (serde_urlencoded) cannot collect, and Kestra's paging/filter parameters.

use saker_core::{Instant, Label, StateType};
use saker_storage::Paging;

use crate::error::ApiError;

/// Decoded `key=value` pairs in order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Params(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key` (also accepted as Kestra 1.x's `filters[key][EQUALS]`).
    pub fn get(&self, key: &str) -> Option<&str> {
        let filter = format!("filters[{key}][EQUALS]");
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key || *k == filter)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Every value of `key`, comma-separated lists split (`state=FAILED,KILLED`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        let filter_in = format!("filters[{key}][IN]");
        let filter_eq = format!("filters[{key}][EQUALS]");
        self.0
            .iter()
            .filter(|(k, _)| k == key || *k == filter_in || *k == filter_eq)
            .flat_map(|(_, v)| v.split(','))
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    pub fn u32(&self, key: &str) -> Result<Option<u32>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<u32>()
                    .map_err(|_| ApiError::invalid(format!("Invalid value '{v}' for '{key}'")))
            })
            .transpose()
    }

    /// `page` (1-based, default 1) and `size` (default 10).
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let page = self.u32("page")?.unwrap_or(1);
        let size = self.u32("size")?.unwrap_or(10);
        if page == 0 {
            return Err(ApiError::invalid(
                "page: must be greater than or equal to 1",
            ));
        }
        Ok(Paging { page, size })
    }

    /// `labels=key:value` pairs.
    pub fn labels(&self) -> Result<Vec<Label>, ApiError> {
        self.0
            .iter()
            .filter(|(k, _)| k == "labels" || k.starts_with("filters[labels]"))
            .map(|(_, v)| {
                v.split_once(':')
                    .filter(|(k, _)| !k.is_empty())
                    .map(|(k, v)| Label::new(k, v))
                    .ok_or_else(|| {
                        ApiError::invalid(format!("Invalid label '{v}', expected key:value"))
                    })
            })
            .collect()
    }

    pub fn states(&self, key: &str) -> Result<Vec<StateType>, ApiError> {
        self.all(key)
            .into_iter()
            .map(|v| {
                serde_json::from_value(serde_json::Value::String(v.to_uppercase()))
                    .map_err(|_| ApiError::invalid(format!("Invalid state '{v}'")))
            })
            .collect()
    }

    pub fn instant(&self, key: &str) -> Result<Option<Instant>, ApiError> {
        self.get(key)
            .map(|v| {
                saker_core::time::parse_instant(v).map_err(|_| {
                    ApiError::invalid(format!(
                        "Invalid date '{v}' for '{key}' (ISO-8601 expected)"
                    ))
                })
            })
            .transpose()
    }

    /// The lower date bound of a search: `startDate`, or `now - |timeRange|` (Kestra's
    /// relative range; the two are exclusive).
    pub fn start_bound(&self, now: Instant) -> Result<Option<Instant>, ApiError> {
        let start = self.instant("startDate")?;
        let Some(range) = self.get("timeRange") else {
            return Ok(start);
        };
        if start.is_some() {
            return Err(ApiError::invalid(
                "Parameters 'startDate' and 'timeRange' are mutually exclusive",
            ));
        }
        let range = saker_core::duration::parse_duration(range).map_err(|_| {
            ApiError::invalid(format!(
                "Invalid duration '{range}' for 'timeRange' (ISO-8601 expected, e.g. P7D)"
            ))
        })?;
        Ok(Some(now - range.abs()))
    }

    /// Whether the request bounds its dates itself (`startDate`, `endDate` or `timeRange`);
    /// otherwise the search endpoints apply the server's default range.
    pub fn has_date_bound(&self) -> bool {
        ["startDate", "endDate", "timeRange"]
            .iter()
            .any(|key| self.get(key).is_some())
    }

    /// The start bound of a search endpoint: the request's, else `now - default` (Kestra's UI
    /// always sends one: unbounded searches time out on big histories).
    pub fn search_start(
        &self,
        default: Option<std::time::Duration>,
        now: Instant,
    ) -> Result<Option<Instant>, ApiError> {
        if self.has_date_bound() {
            return self.start_bound(now);
        }
        Ok(default
            .and_then(|range| chrono::TimeDelta::from_std(range).ok())
            .map(|range| now - range))
    }
}
