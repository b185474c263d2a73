//! `/namespaces/{namespace}/files`: namespace files (read, stats, directory listing, upload,
//! move, delete, search) over `saker_task::namespace_files`, which refuses paths leaving the
//! namespace (`..`). A folder exists while a file is under it, or once created with
//! `POST .../files/directory` (kept by a hidden marker object, so it may be empty); the zip
//! export is here too.

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

/// Whether `dir` or a folder under it was created explicitly.
fn is_under(created: &[String], dir: &str) -> bool {
    created.iter().any(|d| {
        d == dir
            || d.strip_prefix(dir)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

async fn folder_created<S: Store>(app: &Shared<S>, ns: &str, dir: &str) -> ApiResult<bool> {
    let created = namespace_files::directories(storage(app), ns)
        .await
        .map_err(storage_error)?;
    Ok(is_under(&created, dir))
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
    if under.is_empty() && !path.is_empty() && !folder_created(&app, &ns, &path).await? {
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
    let created = namespace_files::directories(storage(&app), &ns)
        .await
        .map_err(storage_error)?;
    if files.is_empty() && !dir.is_empty() && !is_under(&created, &dir) {
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
    // Folders created empty (or holding only folders) are entries too.
    for folder in &created {
        if let Some((name, _)) = folder
            .strip_prefix(&prefix)
            .map(|rest| rest.split_once('/').unwrap_or((rest, "")))
            .filter(|(name, _)| !name.is_empty())
        {
            folders.entry(name.to_owned()).or_default();
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

/// The part `name` of a multipart request: its file name (empty when none) and content; 422
/// when the request is not multipart or has no such part.
pub(crate) async fn file_part<S: Store>(
    app: &Shared<S>,
    request: Request,
    name: &str,
) -> ApiResult<(String, Vec<u8>)> {
    let mut multipart = Multipart::from_request(request, app)
        .await
        .map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let mut found = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::new(e.status(), e.body_text()))?
    {
        if field.name() == Some(name) {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ApiError::new(e.status(), e.body_text()))?;
            found = Some((file_name, bytes.to_vec()));
        }
    }
    found.ok_or_else(|| ApiError::invalid(format!("{name}: the multipart part is missing")))
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
    let (_, content) = file_part(&app, request, "fileContent").await?;
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
    let created = namespace_files::directories(store, &ns)
        .await
        .map_err(storage_error)?;
    let moved_folders: Vec<(String, String)> = created
        .iter()
        .filter_map(|d| {
            let rest = if *d == from {
                ""
            } else {
                d.strip_prefix(&format!("{from}/"))?
            };
            Some((
                d.clone(),
                format!("{to}/{rest}").trim_end_matches('/').to_owned(),
            ))
        })
        .collect();
    if moved.is_empty() && moved_folders.is_empty() {
        return Err(ApiError::not_found(format!(
            "Namespace file '{from}' not found in '{ns}'"
        )));
    }
    if files
        .iter()
        .any(|f| f.path == to || f.path.starts_with(&format!("{to}/")))
        || is_under(&created, &to)
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
    for (old, new) in moved_folders {
        namespace_files::create_directory(store, &ns, &new)
            .await
            .map_err(storage_error)?;
        namespace_files::remove_directory(store, &ns, &old)
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
        || folder_created(&app, &ns, &path).await?
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

/// `GET /namespaces/{ns}/files/export`: a zip (`<ns>_files.zip`) of the namespace's files at
/// their paths, and of its flows as `_flows/<id>.yml`, as Kestra exports a namespace. Streamed:
/// one file is read and compressed at a time; a file that cannot be read mid-way ends the
/// response early (the client sees a truncated archive, never a wrong one).
pub async fn export<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
) -> ApiResult<Response> {
    let files = namespace_files::list(storage(&app), &ns, "")
        .await
        .map_err(storage_error)?;
    let flows: Vec<(String, Vec<u8>)> = app
        .store()
        .list_flows(Some(&ns))
        .await?
        .into_iter()
        .filter(|flow| flow.namespace == ns)
        .map(|flow| (format!("_flows/{}.yml", flow.id), flow.source.into_bytes()))
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let file_name = format!("{ns}_files.zip");
    tokio::spawn(async move {
        // Taken into each blocking compression and given back.
        let mut zip = Some(crate::zip_io::ZipStream::default());
        let mut next = files
            .into_iter()
            .map(|f| (f.path, None))
            .chain(flows.into_iter().map(|(name, source)| (name, Some(source))));
        let failed = loop {
            let Some((name, content)) = next.next() else {
                break None;
            };
            let content = match content {
                Some(content) => content,
                None => match namespace_files::get(storage(&app), &ns, &name).await {
                    Ok(content) => content,
                    Err(e) => break Some(std::io::Error::other(e)),
                },
            };
            let Some(mut writer) = zip.take() else {
                break Some(std::io::Error::other("the zip writer was lost"));
            };
            // Compression is CPU work: off the async threads.
            let added = tokio::task::spawn_blocking(move || {
                let bytes = writer.add(&name, &content);
                (writer, bytes)
            })
            .await;
            let bytes = match added {
                Ok((writer, bytes)) => {
                    zip = Some(writer);
                    bytes
                }
                Err(e) => break Some(std::io::Error::other(e)),
            };
            if tx.send(bytes).await.is_err() {
                // The client went away.
                return;
            }
        };
        let last = match (failed, zip) {
            (None, Some(writer)) => writer.finish(),
            (Some(e), _) => Err(e),
            (None, None) => Err(std::io::Error::other("the zip writer was lost")),
        };
        let _ = tx.send(last).await;
    });
    let body = axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(crate::zip_io::attachment(body, &file_name))
}

/// `POST /namespaces/{ns}/files/directory?path=`: creates a folder (with its parents; nothing
/// changes when it exists, or for the root). 409 when a file is at that path or above it.
pub async fn create_directory<S: Store>(
    State(app): State<Shared<S>>,
    Path(ns): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<StatusCode> {
    let dir = dir_param(&Params::parse(query.as_deref()))?;
    if dir.is_empty() {
        return Ok(StatusCode::OK);
    }
    let store = storage(&app);
    let files = namespace_files::list(store, &ns, "")
        .await
        .map_err(storage_error)?;
    if let Some(file) = files
        .iter()
        .find(|f| f.path == dir || dir.starts_with(&format!("{}/", f.path)))
    {
        return Err(ApiError::conflict(format!(
            "'{}' is a file in '{ns}': no folder can be created at '{dir}'",
            file.path
        )));
    }
    namespace_files::create_directory(store, &ns, &dir)
        .await
        .map_err(storage_error)?;
    Ok(StatusCode::OK)
}
