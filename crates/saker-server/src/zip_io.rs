//! Zip archives of the API: flows exports written in memory (sources are small), namespace
//! files streamed entry by entry ([`ZipStream`]: one file in memory at a time), and uploads read
//! with every entry name checked (no `..`, no absolute path) and the uncompressed total capped,
//! so a crafted archive can neither write outside its place nor inflate without bound.

use std::io::{Cursor, Read, Write};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use zip::write::SimpleFileOptions;

use crate::error::{ApiError, ApiResult};

/// A zip of `(entry name, content)` pairs, deflated.
pub fn write(entries: &[(String, Vec<u8>)]) -> ApiResult<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in entries {
        writer
            .start_file(name.as_str(), options)
            .map_err(ApiError::internal)?;
        writer.write_all(content).map_err(ApiError::internal)?;
    }
    Ok(writer.finish().map_err(ApiError::internal)?.into_inner())
}

/// Where a [`ZipStream`] writes: taken out after each entry.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A zip written entry by entry, each call handing out the bytes it added, so an archive is
/// sent while it is made (entries use data descriptors: no seeking back).
pub struct ZipStream {
    writer: zip::ZipWriter<zip::write::StreamWriter<Sink>>,
    sink: Sink,
}

impl Default for ZipStream {
    fn default() -> Self {
        let sink = Sink::default();
        ZipStream {
            writer: zip::ZipWriter::new_stream(sink.clone()),
            sink,
        }
    }
}

impl ZipStream {
    /// Adds a deflated entry; returns the archive's bytes made since the last call.
    pub fn add(&mut self, name: &str, content: &[u8]) -> std::io::Result<Vec<u8>> {
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        self.writer
            .start_file(name, options)
            .map_err(std::io::Error::other)?;
        self.writer.write_all(content)?;
        Ok(self.sink.take())
    }

    /// Writes the central directory; returns the last bytes of the archive.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        let sink = self.sink.clone();
        self.writer.finish().map_err(std::io::Error::other)?;
        Ok(sink.take())
    }
}

/// `200 application/octet-stream` with `Content-Disposition: attachment; filename="<name>"`
/// (characters that could break the header, from a namespace in the URL, become `_`).
pub fn attachment(body: impl Into<axum::body::Body>, file_name: &str) -> Response {
    let file_name: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// The files of a zip (folders skipped) as `(name, content)`, in archive order. 422 when it is
/// not a zip or an entry's name could leave the archive's folder; 413 when the uncompressed
/// content exceeds `max_bytes`.
pub fn read(bytes: &[u8], max_bytes: usize) -> ApiResult<Vec<(String, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ApiError::invalid(format!("the file is not a valid zip archive: {e}")))?;
    let mut out = Vec::new();
    let mut total = 0usize;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| ApiError::invalid(format!("unreadable zip entry #{index}: {e}")))?;
        let name = entry
            .name()
            .map_err(|e| ApiError::invalid(format!("zip entry #{index} has no valid name: {e}")))?
            .into_owned();
        if !safe_name(&name) {
            return Err(ApiError::invalid(format!(
                "zip entry '{name}' is refused: entry names must be relative paths without '..'"
            )));
        }
        if entry.is_dir() {
            continue;
        }
        // The declared size may lie: read at most what is left of the budget, plus one byte
        // to notice the excess.
        let budget = max_bytes.saturating_sub(total);
        let mut content = Vec::new();
        (&mut entry)
            .take((budget as u64).saturating_add(1))
            .read_to_end(&mut content)
            .map_err(|e| ApiError::invalid(format!("zip entry '{name}' cannot be read: {e}")))?;
        if content.len() > budget {
            return Err(too_large(max_bytes));
        }
        total += content.len();
        out.push((name, content));
    }
    Ok(out)
}

fn too_large(max_bytes: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "Request entity too large: the archive's uncompressed content exceeds the server's \
             limit ({max_bytes} bytes)"
        ),
    )
}

/// A relative path of plain segments (`a/b.yml`, `dir/`): no `..`, no `.`, no leading `/`,
/// no backslash, no drive letter, no NUL.
fn safe_name(name: &str) -> bool {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    !trimmed.is_empty()
        && !trimmed.starts_with('/')
        && !trimmed.contains(['\\', '\0', ':'])
        && trimmed
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let zip = write(&[
            ("a.yml".into(), b"id: a".to_vec()),
            ("dir/b.yml".into(), b"id: b".to_vec()),
        ])
        .unwrap();
        let files = read(&zip, 1024).unwrap();
        assert_eq!(
            files,
            [
                ("a.yml".to_owned(), b"id: a".to_vec()),
                ("dir/b.yml".to_owned(), b"id: b".to_vec())
            ]
        );
        // Ten bytes of content, nine allowed.
        assert_eq!(
            read(&zip, 9).unwrap_err().status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        for bad in [
            "../x.yml",
            "/etc/x.yml",
            "a/../../x.yml",
            "c:\\x.yml",
            "./x",
        ] {
            let zip = write(&[(bad.into(), b"x".to_vec())]).unwrap();
            let error = read(&zip, 1024).unwrap_err();
            assert_eq!(error.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
        assert_eq!(
            read(b"not a zip", 1024).unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
