//! `/namespaces/{namespace}/files`: namespace files (read, stats, directory listing, upload,
//! move, delete, search) over `saker_task::namespace_files`, which refuses paths leaving the
//! namespace (`..`). Folders are implicit: a folder exists while a file is under it.

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use saker_storage::Store;
use saker_task::namespace_files::{self, NamespaceFile};
use saker_task::storage::{Storage, StorageError};
use serde_json::{Value, json};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::query::Params;

fn storage<S: Store>(app: &Shared<S>) -> &dyn Storage {
    &**app.service.runtime().files()
}

fn storage_error(error: StorageError) -> ApiError {
    match error {
        StorageError::NotFound { uri } => ApiError::not_found(format!("File '{uri}' not found")),
        other => ApiError::internal(other),
    }
}

/// The `?path=` (or another key), checked: 422 when it leaves the namespace.
fn path_param(params: &Params, key: &str) -> ApiResult<String> {
    let path = params
        .get(key)
        .ok_or_else(|| ApiError::invalid(format!("{key}: must not be null")))?;
    namespace_files::clean_path(path).map_err(|e| ApiError::invalid(e.to_string()))
}

/// A folder path (`/`, empty or absent: the namespace's root), as `a/b` (no slashes around).
fn dir_param(params: &Params) -> ApiResult<String> {
    match params.get("path").map(|p| p.trim_matches('/')) {
        None | Some("") => Ok(String::new()),
        Some(path) => {
            namespace_files::clean_path(path).map_err(|e| ApiError::invalid(e.to_string()))
        }
    }
}

fn file_attributes(name: &str, file: &NamespaceFile) -> Value {
    let date = file
        .modified
        .map(|d| d.timestamp_millis())
        .unwrap_or_default();
    json!({
        "fileName": name,
        "lastModifiedTime": date,
        "creationTime": date,
        "type": "File",
        "size": file.size,
        "metadata": {},
    })
}

fn dir_attributes(name: &str, files: &[&NamespaceFile]) -> Value {
    let date = files
        .iter()
        .filter_map(|f| f.modified)
        .max()
        .map(|d| d.timestamp_millis())
        .unwrap_or_default();
    json!({
        "fileName": name,
        "lastModifiedTime": date,
        "creationTime": date,
        "type": "Directory",
        "size": 0,
        "metadata": {},
    })
}

/// `GET /namespaces/{ns}/files?path=`: the content.
pub async fn get_file<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let params = Params::parse(query.as_deref());
    let path = path_param(&params, "path")?;
    let content = namespace_files::get(storage(&app), &ns, &path)
        .await
        .map_err(storage_error)?;
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::from(content))
        .map_err(ApiError::internal)
}

/// `GET /namespaces/{ns}/files/stats?path=`: a file's or a folder's attributes.
pub async fn stats<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let path = dir_param(&params)?;
    let files = namespace_files::list(storage(&app), &ns, "")
        .await
        .map_err(storage_error)?;
    let name = path.rsplit('/').next().unwrap_or_default();
    if let Some(file) = files.iter().find(|f| !path.is_empty() && f.path == path) {
        return Ok(Json(file_attributes(name, file)));
    }
    let prefix = if path.is_empty() {
        String::new()
    } else {
        format!("{path}/")
    };
    let under: Vec<&NamespaceFile> = files
        .iter()
        .filter(|f| f.path.starts_with(&prefix))
        .collect();
    if under.is_empty() && !path.is_empty() {
        return Err(ApiError::not_found(format!(
            "Namespace file '{path}' not found in '{ns}'"
        )));
    }
    Ok(Json(dir_attributes(name, &under)))
}

/// `GET /namespaces/{ns}/files/directory?path=`: the entries right under a folder.
pub async fn list_directory<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let dir = dir_param(&params)?;
    let files = namespace_files::list(storage(&app), &ns, &dir)
        .await
        .map_err(storage_error)?;
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    if files.is_empty() && !dir.is_empty() {
        return Err(ApiError::not_found(format!(
            "Directory '{dir}' not found in '{ns}'"
        )));
    }
    // Files directly inside, then one entry per sub-folder (sorted by name).
    let mut entries: Vec<(String, Value)> = Vec::new();
    let mut folders: std::collections::BTreeMap<String, Vec<&NamespaceFile>> = Default::default();
    for file in &files {
        let Some(rest) = file.path.strip_prefix(&prefix) else {
            continue;
        };
        match rest.split_once('/') {
            None => entries.push((rest.to_owned(), file_attributes(rest, file))),
            Some((folder, _)) => folders.entry(folder.to_owned()).or_default().push(file),
        }
    }
    for (name, under) in &folders {
        entries.push((name.clone(), dir_attributes(name, under)));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Json(Value::Array(
        entries.into_iter().map(|(_, v)| v).collect(),
    )))
}

/// `POST /namespaces/{ns}/files?path=` with the multipart part `fileContent`.
pub async fn upload<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
    request: Request,
) -> ApiResult<StatusCode> {
    let params = Params::parse(query.as_deref());
    let path = path_param(&params, "path")?;
    let mut multipart = Multipart::from_request(request, &app)
        .await
        .map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let mut content = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?
    {
        if field.name() == Some("fileContent") {
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
            content = Some(bytes.to_vec());
        }
    }
    let content =
        content.ok_or_else(|| ApiError::invalid("fileContent: the multipart part is missing"))?;
    namespace_files::put(storage(&app), &ns, &path, content)
        .await
        .map_err(storage_error)?;
    Ok(StatusCode::OK)
}

/// `PUT /namespaces/{ns}/files?from=&to=`: moves a file or a folder.
pub async fn move_file<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(query.as_deref());
    let from = path_param(&params, "from")?;
    let to = path_param(&params, "to")?;
    let store = storage(&app);
    let files = namespace_files::list(store, &ns, "")
        .await
        .map_err(storage_error)?;
    let moved: Vec<(String, String)> = files
        .iter()
        .filter_map(|f| {
            if f.path == from {
                Some((f.path.clone(), to.clone()))
            } else {
                let rest = f.path.strip_prefix(&format!("{from}/"))?;
                Some((f.path.clone(), format!("{to}/{rest}")))
            }
        })
        .collect();
    if moved.is_empty() {
        return Err(ApiError::not_found(format!(
            "Namespace file '{from}' not found in '{ns}'"
        )));
    }
    if files
        .iter()
        .any(|f| f.path == to || f.path.starts_with(&format!("{to}/")))
    {
        return Err(ApiError::conflict(format!(
            "'{to}' already exists in '{ns}'"
        )));
    }
    for (old, new) in moved {
        let content = namespace_files::get(store, &ns, &old)
            .await
            .map_err(storage_error)?;
        namespace_files::put(store, &ns, &new, content)
            .await
            .map_err(storage_error)?;
        namespace_files::delete(store, &ns, &old)
            .await
            .map_err(storage_error)?;
    }
    Ok(StatusCode::OK)
}

/// `DELETE /namespaces/{ns}/files?path=`: a file, or a folder with everything under it.
pub async fn delete_file<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<StatusCode> {
    let params = Params::parse(query.as_deref());
    let path = path_param(&params, "path")?;
    let store = storage(&app);
    let files = namespace_files::list(store, &ns, "")
        .await
        .map_err(storage_error)?;
    if files.iter().any(|f| f.path == path) {
        namespace_files::delete(store, &ns, &path)
            .await
            .map_err(storage_error)?;
    } else if files
        .iter()
        .any(|f| f.path.starts_with(&format!("{path}/")))
    {
        // A folder: the backend deletes what is under its prefix.
        let uri = namespace_files::uri_of(&ns, &path).map_err(storage_error)?;
        store
            .delete_by_prefix(&format!("{uri}/"))
            .await
            .map_err(storage_error)?;
    } else {
        return Err(ApiError::not_found(format!(
            "Namespace file '{path}' not found in '{ns}'"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /namespaces/{ns}/files/search?q=`: paths containing `q` (case-insensitive).
pub async fn search<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let params = Params::parse(query.as_deref());
    let q = params.get("q").unwrap_or_default().to_lowercase();
    let files = namespace_files::list(storage(&app), &ns, "")
        .await
        .map_err(storage_error)?;
    Ok(Json(Value::Array(
        files
            .iter()
            .filter(|f| f.path.to_lowercase().contains(&q))
            .map(|f| Value::String(format!("/{}", f.path)))
            .collect(),
    )))
}
