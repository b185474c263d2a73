//! `/flows` export and import (zip archives of YAML sources, as Kestra names their entries) and
//! the bulk forms: delete, disable and enable `by-ids` (a body of `[{namespace, id}]`) and
//! `by-query` (the search filters), answering `{count}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::response::Response;
use saker_storage::{FlowRecord, Store};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::flows::{checked_flow, flow_json, matching_flows};
use crate::query::Params;
use crate::zip_io;

/// Kestra's `IdWithNamespace`.
#[derive(serde::Deserialize)]
struct FlowId {
    namespace: String,
    id: String,
}

fn flow_ids(body: &[u8]) -> ApiResult<Vec<FlowId>> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(format!("expected a JSON array of {{namespace, id}}: {e}")))
}

/// The latest revision of each flow named, in order; 404 for the first unknown one (nothing
/// is done then).
async fn flows_by_ids<S: Store>(app: &Shared<S>, body: &[u8]) -> ApiResult<Vec<FlowRecord>> {
    let mut records = Vec::new();
    for FlowId { namespace, id } in flow_ids(body)? {
        let record = app
            .store()
            .get_flow(&namespace, &id, None)
            .await?
            .filter(|r| !r.deleted)
            .ok_or_else(|| ApiError::not_found(format!("Flow '{namespace}.{id}' not found")))?;
        records.push(record);
    }
    Ok(records)
}

fn flows_zip(records: &[FlowRecord], name: impl Fn(&FlowRecord) -> String) -> ApiResult<Response> {
    let entries: Vec<(String, Vec<u8>)> = records
        .iter()
        .map(|r| (name(r), r.source.clone().into_bytes()))
        .collect();
    Ok(zip_io::attachment(zip_io::write(&entries)?, "flows.zip"))
}

/// `GET /flows/export/by-query?<search filters>`: a zip of the sources, one
/// `<namespace>-<id>.yml` entry per flow.
pub async fn export_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let records = matching_flows(&app, &Params::parse(query.as_deref())).await?;
    flows_zip(&records, |r| format!("{}-{}.yml", r.namespace, r.id))
}

/// `POST /flows/export/by-ids` with `[{namespace, id}]`: a zip of the sources, one
/// `<namespace>.<id>.yml` entry per flow (Kestra names the two exports differently).
pub async fn export_by_ids<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Response> {
    let records = flows_by_ids(&app, &body).await?;
    flows_zip(&records, |r| format!("{}.{}.yml", r.namespace, r.id))
}

/// Creates or updates one flow from its source.
async fn import_one<S: Store>(app: &Shared<S>, source: &str) -> ApiResult<()> {
    let flow = checked_flow(source)?;
    app.store()
        .put_flow(&flow.namespace, &flow.id, &flow.source)
        .await?;
    app.flow_changed(&flow.namespace, &flow.id).await
}

/// The documents of a multi-document YAML file, split at the `---` lines, each with its
/// index; blank documents (around a leading or trailing separator) are left out.
fn yaml_documents(text: &str) -> Vec<(String, String)> {
    let mut documents = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line.trim_end() == "---" {
            documents.push(String::new());
        } else if let Some(last) = documents.last_mut() {
            last.push_str(line);
        }
    }
    documents
        .into_iter()
        .enumerate()
        .filter(|(_, source)| !source.trim().is_empty())
        .map(|(index, source)| (index.to_string(), source))
        .collect()
}

fn is_yaml(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.ends_with(".yml") || lower.ends_with(".yaml")
}

/// `POST /flows/import` with the multipart part `fileUpload`: a `.zip` of YAML files (other
/// entries are skipped) or a multi-document `.yml`/`.yaml`. Each flow is created or updated;
/// the reply lists those that could not be (zip entry names, or document indexes of a YAML
/// file), as Kestra does.
pub async fn import<S: Store>(
    State(app): State<Shared<S>>,
    request: Request,
) -> ApiResult<Json<Value>> {
    let (name, bytes) = crate::namespace_files::file_part(&app, request, "fileUpload").await?;
    let sources: Vec<(String, String)> = if is_yaml(&name) {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::invalid("the YAML file is not UTF-8"))?;
        yaml_documents(text)
    } else if name.to_lowercase().ends_with(".zip") {
        zip_io::read(&bytes, app.config.max_body_bytes)?
            .into_iter()
            .filter(|(entry, _)| is_yaml(entry))
            .map(|(entry, content)| (entry, String::from_utf8_lossy(&content).into_owned()))
            .collect()
    } else {
        let extension = name.rfind('.').map_or(name.as_str(), |at| &name[at..]);
        return Err(ApiError::invalid(format!(
            "Cannot import file of type '{extension}': send a .zip, .yml or .yaml file"
        )));
    };
    let mut failed = Vec::new();
    for (name, source) in sources {
        if import_one(&app, &source).await.is_err() {
            failed.push(Value::String(name));
        }
    }
    Ok(Json(Value::Array(failed)))
}

async fn delete_all<S: Store>(app: &Shared<S>, records: Vec<FlowRecord>) -> ApiResult<Json<Value>> {
    let mut count = 0u64;
    for record in records {
        if app
            .store()
            .delete_flow(&record.namespace, &record.id)
            .await?
        {
            app.flow_deleted(&record.namespace, &record.id).await?;
            count += 1;
        }
    }
    Ok(Json(json!({ "count": count })))
}

/// `DELETE /flows/delete/by-ids` with `[{namespace, id}]` → `{count}`.
pub async fn delete_by_ids<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let records = flows_by_ids(&app, &body).await?;
    delete_all(&app, records).await
}

/// `DELETE /flows/delete/by-query?<search filters>` → `{count}`.
pub async fn delete_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let records = matching_flows(&app, &Params::parse(query.as_deref())).await?;
    delete_all(&app, records).await
}

/// `source` with its top-level `disabled:` set to `disabled` (added at the end when absent).
fn with_disabled(source: &str, disabled: bool) -> String {
    let line = format!("disabled: {disabled}");
    let mut found = false;
    let mut out: Vec<&str> = Vec::new();
    for current in source.lines() {
        if !found
            && current
                .strip_prefix("disabled")
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        {
            found = true;
            out.push(&line);
        } else {
            out.push(current);
        }
    }
    let mut text = out.join("\n");
    if !found {
        text.push('\n');
        text.push_str(&line);
    }
    text.push('\n');
    text
}

/// Sets `disabled` on the flows whose state differs (a new revision each); `{count}` of those.
async fn set_disabled<S: Store>(
    app: &Shared<S>,
    records: Vec<FlowRecord>,
    disabled: bool,
) -> ApiResult<Json<Value>> {
    let mut count = 0u64;
    for record in records {
        if flow_json(&record, false)["disabled"] == Value::Bool(disabled) {
            continue;
        }
        let source = with_disabled(&record.source, disabled);
        // The result must still be a valid flow of the same id.
        let flow = checked_flow(&source)?;
        app.store()
            .put_flow(&record.namespace, &record.id, &flow.source)
            .await?;
        app.flow_changed(&record.namespace, &record.id).await?;
        count += 1;
    }
    Ok(Json(json!({ "count": count })))
}

/// `POST /flows/disable/by-ids` with `[{namespace, id}]` → `{count}`.
pub async fn disable_by_ids<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let records = flows_by_ids(&app, &body).await?;
    set_disabled(&app, records, true).await
}

/// `POST /flows/enable/by-ids` with `[{namespace, id}]` → `{count}`.
pub async fn enable_by_ids<S: Store>(
    State(app): State<Shared<S>>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let records = flows_by_ids(&app, &body).await?;
    set_disabled(&app, records, false).await
}

/// `POST /flows/disable/by-query?<search filters>` → `{count}`.
pub async fn disable_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let records = matching_flows(&app, &Params::parse(query.as_deref())).await?;
    set_disabled(&app, records, true).await
}

/// `POST /flows/enable/by-query?<search filters>` → `{count}`.
pub async fn enable_by_query<S: Store>(
    State(app): State<Shared<S>>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let records = matching_flows(&app, &Params::parse(query.as_deref())).await?;
    set_disabled(&app, records, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_separator_lines_only() {
        let docs = yaml_documents("---\nid: a\nx: 'a---b'\n---\n\n---\nid: b\n");
        assert_eq!(
            docs,
            [
                ("1".to_owned(), "id: a\nx: 'a---b'\n".to_owned()),
                ("3".to_owned(), "id: b\n".to_owned())
            ]
        );
    }

    #[test]
    fn disabled_is_replaced_or_added_at_the_top_level() {
        assert_eq!(
            with_disabled("id: a\ndisabled: false\ntasks: []", true),
            "id: a\ndisabled: true\ntasks: []\n"
        );
        // An indented `disabled` belongs to a task: the flow's is added.
        assert_eq!(
            with_disabled("id: a\ntasks:\n  - disabled: true\n", true),
            "id: a\ntasks:\n  - disabled: true\ndisabled: true\n"
        );
    }
}
