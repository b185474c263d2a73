//! `/flows`: create, update, delete, read (with source and revisions), search, validate and
//! namespace bulk update. Flows are stored as their YAML source; the JSON form is the document
//! itself plus `revision`, `disabled`, `deleted` (and `source` when asked).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use saker_flow::{Checked, LoadOptions};
use saker_storage::{FlowRecord, Store};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::query::Params;

/// Kestra's FlowWithSource (or Flow without `source`) from a stored revision.
pub fn flow_json(record: &FlowRecord, with_source: bool) -> Value {
    let mut object = saker_flow::yaml::load(&record.source, &LoadOptions::default())
        .ok()
        .and_then(|docs| docs.into_iter().next())
        .map(|doc| doc.root.to_json())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default();
    object.insert("id".into(), Value::String(record.id.clone()));
    object.insert("namespace".into(), Value::String(record.namespace.clone()));
    object.insert("revision".into(), Value::from(record.revision));
    if !object.contains_key("disabled") {
        object.insert("disabled".into(), Value::Bool(false));
    }
    object.insert("deleted".into(), Value::Bool(record.deleted));
    if with_source {
        object.insert("source".into(), Value::String(record.source.clone()));
    }
    Value::Object(object)
}

pub(crate) fn utf8(body: &Bytes) -> ApiResult<&str> {
    std::str::from_utf8(body).map_err(|_| ApiError::invalid("the flow source is not UTF-8"))
}

/// Parses and validates exactly one flow document, or Kestra's 422.
pub(crate) fn checked_flow(source: &str) -> ApiResult<saker_flow::Flow> {
    let mut docs = saker_flow::check_source(
        source,
        None,
        saker_tasks::registry(),
        &LoadOptions::default(),
    );
    if docs.len() != 1 {
        return Err(ApiError::invalid(format!(
            "expected one flow document, got {}",
            docs.len()
        )));
    }
    let doc = docs.remove(0);
    into_flow(doc)
}

fn into_flow(doc: Checked) -> ApiResult<saker_flow::Flow> {
    if doc.is_valid()
        && let Some(flow) = doc.flow
    {
        return Ok(flow);
    }
    Err(violations(&doc))
}

fn violations(doc: &Checked) -> ApiError {
    let errors: Vec<(String, Option<String>)> = doc
        .errors()
        .map(|d| {
            (
                d.message.clone(),
                Some(d.path.clone()).filter(|p| !p.is_empty()),
            )
        })
        .collect();
    let text = errors
        .iter()
        .map(|(message, path)| match path {
            Some(path) => format!("{path}: {message}"),
            None => message.clone(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("Invalid entity: {text}"),
        errors,
    }
}

pub async fn create<S: Store>(State(app): State<Shared<S>>, body: Bytes) -> ApiResult<Json<Value>> {
    let flow = checked_flow(utf8(&body)?)?;
    let store = app.store();
    if store
        .get_flow(&flow.namespace, &flow.id, None)
        .await?
        .is_some()
    {
        return Err(ApiError::invalid("Flow id already exists"));
    }
    let record = store
        .put_flow(&flow.namespace, &flow.id, &flow.source)
        .await?;
    app.flow_changed(&flow.namespace, &flow.id).await?;
    Ok(Json(flow_json(&record, true)))
}

pub async fn update<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, id)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let flow = checked_flow(utf8(&body)?)?;
    if flow.namespace != ns || flow.id != id {
        return Err(ApiError::invalid(format!(
            "Illegal flow id update: the source declares '{}.{}', the URL '{ns}.{id}'",
            flow.namespace, flow.id
        )));
    }
    let store = app.store();
    if store.get_flow(&ns, &id, None).await?.is_none() {
        return Err(ApiError::not_found(format!("Flow '{ns}.{id}' not found")));
    }
    let record = store.put_flow(&ns, &id, &flow.source).await?;
    app.flow_changed(&ns, &id).await?;
    Ok(Json(flow_json(&record, true)))
}

pub async fn get_one<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let revision = params.u32("revision")?;
    let allow_deleted = params.flag("allowDeleted");
    let record = match revision {
        Some(_) => app.store().get_flow(&ns, &id, revision).await?,
        None if allow_deleted => app.store().flow_revisions(&ns, &id).await?.pop(),
        None => app.store().get_flow(&ns, &id, None).await?,
    };
    let record = record
        .filter(|r| !r.deleted || allow_deleted || revision.is_some())
        .ok_or_else(|| ApiError::not_found(format!("Flow '{ns}.{id}' not found")))?;
    Ok(Json(flow_json(&record, params.flag("source"))))
}

pub async fn delete<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    if app.store().delete_flow(&ns, &id).await? {
        app.flow_deleted(&ns, &id).await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("Flow '{ns}.{id}' not found")))
    }
}

pub async fn revisions<S: Store>(
    State(app): State<Shared<S>>,
    Path((ns, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let revisions = app.store().flow_revisions(&ns, &id).await?;
    if revisions.is_empty() {
        return Err(ApiError::not_found(format!("Flow '{ns}.{id}' not found")));
    }
    Ok(Json(Value::Array(
        revisions.iter().map(|r| flow_json(r, true)).collect(),
    )))
}

/// `GET /flows/search?q&namespace&labels&page&size`: flows without source.
pub async fn search<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let paging = params.paging()?;
    let matching: Vec<Value> = matching_flows(&app, &params)
        .await?
        .iter()
        .map(|r| flow_json(r, false))
        .collect();
    let page = paging.apply(matching);
    Ok(Json(json!({"results": page.results, "total": page.total})))
}

/// The latest revision of the flows matching the search filters `namespace` (a prefix, as a
/// whole segment), `q` (in the id or namespace) and `labels` (the search and the `by-query`
/// bulk forms).
pub(crate) async fn matching_flows<S: Store>(
    app: &Shared<S>,
    params: &Params,
) -> ApiResult<Vec<FlowRecord>> {
    let namespace = params.get("namespace");
    let q = params.get("q").map(str::to_lowercase);
    let labels = params.labels()?;
    let flows = app.store().list_flows(None).await?;
    Ok(flows
        .into_iter()
        .filter(|r| {
            namespace.is_none_or(|ns| {
                r.namespace == ns
                    || r.namespace
                        .strip_prefix(ns)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
        })
        .filter(|r| {
            q.as_deref().is_none_or(|q| {
                r.id.to_lowercase().contains(q) || r.namespace.to_lowercase().contains(q)
            })
        })
        .filter(|r| {
            labels.is_empty() || {
                let flow = flow_json(r, false);
                labels.iter().all(|label| {
                    flow_labels(&flow)
                        .iter()
                        .any(|(k, v)| *k == label.key && *v == label.value)
                })
            }
        })
        .collect())
}

/// Labels of a flow document (a list of `{key, value}` or a map).
fn flow_labels(flow: &Value) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match flow.get("labels") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|l| Some((text(l.get("key")?), text(l.get("value")?))))
            .collect(),
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        _ => Vec::new(),
    }
}

pub async fn list_namespace<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
) -> ApiResult<Json<Value>> {
    let flows = app.store().list_flows(Some(&ns)).await?;
    Ok(Json(Value::Array(
        flows
            .iter()
            .filter(|r| r.namespace == ns)
            .map(|r| flow_json(r, false))
            .collect(),
    )))
}

/// `POST /flows/validate`: one result per document, `constraints` set when it is invalid.
pub async fn validate(body: Bytes) -> Response {
    let Ok(source) = std::str::from_utf8(&body) else {
        return ApiError::invalid("the flow source is not UTF-8").into_response();
    };
    let docs = saker_flow::check_source(
        source,
        None,
        saker_tasks::registry(),
        &LoadOptions::default(),
    );
    let results: Vec<Value> = docs
        .iter()
        .enumerate()
        .map(|(index, doc)| {
            let mut result = Map::new();
            result.insert("index".into(), Value::from(index));
            if let Some(flow) = &doc.flow {
                result.insert("flow".into(), Value::String(flow.id.clone()));
                result.insert("namespace".into(), Value::String(flow.namespace.clone()));
            }
            let errors: Vec<String> = doc
                .errors()
                .map(|d| {
                    if d.path.is_empty() {
                        d.message.clone()
                    } else {
                        format!("{}: {}", d.path, d.message)
                    }
                })
                .collect();
            if !errors.is_empty() || doc.flow.is_none() {
                result.insert("constraints".into(), Value::String(errors.join("\n")));
            }
            let warnings: Vec<Value> = doc
                .diagnostics
                .iter()
                .filter(|d| d.severity == saker_flow::Severity::Warning)
                .map(|d| Value::String(d.message.clone()))
                .collect();
            result.insert("outdated".into(), Value::Bool(false));
            result.insert("deprecationPaths".into(), Value::Array(Vec::new()));
            result.insert("warnings".into(), Value::Array(warnings));
            result.insert("infos".into(), Value::Array(Vec::new()));
            Value::Object(result)
        })
        .collect();
    Json(Value::Array(results)).into_response()
}

/// `POST /flows/{ns}?delete=true`: multi-document YAML replacing the namespace's flows. Every
/// document must be valid and of that namespace (nothing is stored otherwise).
pub async fn update_namespace<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let delete = params
        .get("delete")
        .is_none_or(|v| v.eq_ignore_ascii_case("true"));
    let source = utf8(&body)?;
    let docs = saker_flow::check_source(
        source,
        None,
        saker_tasks::registry(),
        &LoadOptions::default(),
    );
    let mut flows = Vec::new();
    for doc in docs {
        let flow = into_flow(doc)?;
        if flow.namespace != ns {
            return Err(ApiError::invalid(format!(
                "flow '{}' is in namespace '{}', not '{ns}'",
                flow.id, flow.namespace
            )));
        }
        flows.push(flow);
    }
    let store = app.store();
    let mut out = Vec::new();
    for flow in &flows {
        let record = store.put_flow(&ns, &flow.id, &flow.source).await?;
        app.flow_changed(&ns, &flow.id).await?;
        out.push(flow_json(&record, false));
    }
    if delete {
        for existing in store.list_flows(Some(&ns)).await? {
            if existing.namespace == ns && !flows.iter().any(|f| f.id == existing.id) {
                store.delete_flow(&ns, &existing.id).await?;
                app.flow_deleted(&ns, &existing.id).await?;
                let mut deleted = existing.clone();
                deleted.deleted = true;
                out.push(flow_json(&deleted, false));
            }
        }
    }
    Ok(Json(Value::Array(out)))
}
