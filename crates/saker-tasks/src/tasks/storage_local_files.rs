//! `io.kestra.plugin.core.storage.LocalFiles`: deprecated: writes input files into the working directory and uploads output files.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use saker_task::prelude::*;

use crate::shared::Glob;

/// Properties of `LocalFiles`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Files to create: name → content or URI.
    pub inputs: Option<Property<Map<String, Value>>>,
    /// Glob patterns of files to upload.
    pub outputs: Option<Property<Vec<String>>>,
}

/// Runs `storage.LocalFiles` in the working directory of the enclosing `WorkingDirectory` (set
/// by the worker), or in a temporary directory of its own, removed afterwards.
pub struct LocalFiles;

impl RunnableTask for LocalFiles {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        // Both maps render before any file is touched: a render error leaves nothing behind.
        let inputs = ctx.render_opt(&params.inputs)?.unwrap_or_default();
        let outputs = ctx.render_opt(&params.outputs)?.unwrap_or_default();
        let temp;
        let dir = match ctx.working_dir() {
            Some(dir) => dir.to_path_buf(),
            None => {
                temp = TempDir::create().map_err(TaskError::failed)?;
                temp.0.clone()
            }
        };
        let mut written = 0;
        for (name, content) in inputs {
            let content = match content {
                // Kestra drops null entries.
                Value::Null => continue,
                Value::String(text) => text,
                other => other.to_string(),
            };
            let path = inside(&dir, &name)?;
            let bytes = fetch(ctx, &dir, &content).await?;
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| io_error("create the directory of", &name, e))?;
            }
            tokio::fs::write(&path, bytes)
                .await
                .map_err(|e| io_error("write", &name, e))?;
            written += 1;
        }
        let matchers = outputs
            .iter()
            .filter(|pattern| !pattern.trim().is_empty())
            .map(|pattern| Matcher::new(pattern))
            .collect::<Result<Vec<_>, _>>()?;
        let walked = dir.clone();
        let files = tokio::task::spawn_blocking(move || regular_files(&walked))
            .await
            .map_err(TaskError::failed)?
            .map_err(|e| TaskError::Failed(format!("cannot list the working directory: {e}")))?;
        let mut uris = Map::new();
        for relative in files {
            let absolute = dir.join(&relative);
            if !matchers.iter().any(|m| m.matches(&relative, &absolute)) {
                continue;
            }
            let bytes = tokio::fs::read(&absolute)
                .await
                .map_err(|e| io_error("read", &relative, e))?;
            let uri = ctx.put_file_as(&stored_name(&relative), bytes).await?;
            uris.insert(relative, Value::String(uri));
        }
        ctx.logger().debug(format!(
            "Provided {written} input(s) and captured {} output(s).",
            uris.len()
        ));
        Ok(TaskOutcome::empty().with("uris", uris))
    }
}

/// A temporary working directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> std::io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "saker-localfiles-{}-{n}",
                std::process::id()
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir(path)),
                // Left over by a previous process with the same pid: try the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover temp directory is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `dir/name`, refusing names that would leave `dir` (absolute, `..`).
pub(crate) fn inside(dir: &Path, name: &str) -> Result<PathBuf, TaskError> {
    let relative = Path::new(name);
    let escapes = relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if name.trim().is_empty() || escapes {
        return Err(TaskError::Failed(format!(
            "invalid input file name '{name}': expected a relative path inside the working directory"
        )));
    }
    Ok(dir.join(relative))
}

/// The bytes of an input: the file a `kestra://`, `nsfile://` or `file://` URI points to (as
/// Kestra's URIFetcher), or the text itself.
pub(crate) async fn fetch(ctx: &RunContext, dir: &Path, content: &str) -> Result<Vec<u8>, TaskError> {
    if content.starts_with("kestra://") {
        saker_task::storage::check_uri(content).map_err(TaskError::failed)?;
        return ctx.storage().get(content).await.map_err(TaskError::failed);
    }
    if let Some(rest) = content.strip_prefix("nsfile://") {
        let uri = namespace_file_uri(&ctx.info().namespace, rest)?;
        return ctx.storage().get(&uri).await.map_err(TaskError::failed);
    }
    if let Some(path) = content.strip_prefix("file://") {
        // Only files already in the working directory: Kestra denies other local paths unless
        // configured (`allowed-paths`), which Saker has no setting for.
        let path = Path::new(path);
        let allowed = path.is_absolute()
            && path.starts_with(dir)
            && !path.components().any(|c| c == Component::ParentDir);
        if !allowed {
            return Err(TaskError::Failed(format!(
                "'{content}' is not authorized: only files inside the working directory are allowed"
            )));
        }
        return tokio::fs::read(path)
            .await
            .map_err(|e| io_error("read", &path.display().to_string(), e));
    }
    Ok(content.as_bytes().to_vec())
}

/// `nsfile:///path` (current namespace) or `nsfile://<namespace>/path` as the internal-storage
/// URI of the namespace file, `kestra:///<ns path>/_files/<path>` (spec §8.2).
fn namespace_file_uri(current: &str, rest: &str) -> Result<String, TaskError> {
    let (namespace, path) = match rest.strip_prefix('/') {
        Some(path) => (current, path),
        None => rest.split_once('/').unwrap_or((rest, "")),
    };
    if path.is_empty() || path.split('/').any(|segment| segment == "..") {
        return Err(TaskError::Failed(format!(
            "invalid namespace file URI 'nsfile://{rest}': expected nsfile:///<path> or nsfile://<namespace>/<path>"
        )));
    }
    Ok(format!(
        "{}/{}/_files/{path}",
        saker_task::storage::SCHEME,
        namespace.replace('.', "/")
    ))
}

/// An output pattern: a glob relative to the working directory, or, like Java's PathMatcher, an
/// explicit `glob:`/`regex:` pattern matched against the absolute path.
pub(crate) enum Matcher {
    Relative(Glob),
    Absolute(Glob),
}

impl Matcher {
    pub(crate) fn new(pattern: &str) -> Result<Matcher, TaskError> {
        if pattern.starts_with("regex:") {
            return Err(TaskError::Failed(format!(
                "unsupported output pattern '{pattern}': use a glob"
            )));
        }
        match pattern.strip_prefix("glob:") {
            Some(glob) => Glob::new(glob).map(Matcher::Absolute),
            None => Glob::new(pattern).map(Matcher::Relative),
        }
        .map_err(TaskError::Failed)
    }

    pub(crate) fn matches(&self, relative: &str, absolute: &Path) -> bool {
        match self {
            Matcher::Relative(glob) => glob.matches(relative),
            Matcher::Absolute(glob) => glob.matches(&absolute.to_string_lossy()),
        }
    }
}

/// Every regular file under `dir` (symbolic links not followed), as `/`-separated relative
/// paths, sorted so outputs come in a stable order.
pub(crate) fn regular_files(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let parts: Vec<String> = path
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                files.push(parts.join("/"));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `<hash of the relative path>-<URL-encoded file name>`, as Kestra names output files: unique
/// per path (two `x.txt` in different folders do not collide) and ending with the file name.
pub(crate) fn stored_name(relative: &str) -> String {
    let hash = relative.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let file_name = relative.rsplit('/').next().unwrap_or(relative);
    format!("{hash:016x}-{}", url_encode(file_name))
}

/// Java's `URLEncoder.encode(_, UTF_8)`: letters, digits and `.-*_` kept, space as `+`.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(byte as char);
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn io_error(action: &str, name: &str, error: std::io::Error) -> TaskError {
    TaskError::Failed(format!("cannot {action} '{name}': {error}"))
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.LocalFiles",
    aliases: [
        "io.kestra.core.tasks.storages.LocalFiles",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Create and collect local files (deprecated).",
    slots: [],
    params: Params,
    runnable: LocalFiles,
}

#[cfg(test)]
mod tests {
    use super::{TempDir, namespace_file_uri, stored_name};
    use crate::test_support::{assert_invalid, assert_valid, env, run, run_in};
    use saker_task::memory::test_info;
    use saker_task::storage::Storage;
    use serde_json::json;

    const TYPE: &str = "io.kestra.plugin.core.storage.LocalFiles";

    #[test]
    fn inputs_and_outputs() {
        assert_valid(TYPE, json!({"inputs": {"a.txt": "x"}, "outputs": ["*.txt"]}));
        assert_invalid(
            TYPE,
            json!({"outputs": "*.txt"}),
            "outputs",
            "expected a sequence",
        );
    }

    #[tokio::test]
    async fn tasks_share_the_working_directory() {
        // working-directory.yaml: `first` writes out/stay.txt, `second` collects out/*.
        let env = env();
        let dir = TempDir::create().unwrap();
        let mut first = env
            .context(test_info("first", TYPE), json!({}))
            .with_working_dir(&dir.0);
        let outcome = run_in(
            &mut first,
            TYPE,
            json!({"inputs": {"out/stay.txt": "{{ taskrun.id }}", "skip.txt": null}}),
        )
        .await
        .unwrap();
        assert_eq!(outcome.outputs["uris"], json!({}));
        assert!(!dir.0.join("skip.txt").exists());
        std::fs::write(dir.0.join("top.txt"), "t").unwrap();
        let mut second = env
            .context(test_info("second", TYPE), json!({}))
            .with_working_dir(&dir.0);
        let outcome = run_in(&mut second, TYPE, json!({"outputs": ["out/*"]}))
            .await
            .unwrap();
        let uris = outcome.outputs["uris"].as_object().unwrap();
        assert_eq!(uris.keys().collect::<Vec<_>>(), ["out/stay.txt"]);
        let uri = uris["out/stay.txt"].as_str().unwrap();
        assert!(uri.starts_with(&second.storage_prefix()) && uri.ends_with("-stay.txt"), "{uri}");
        assert_eq!(env.storage.get_now(uri).unwrap(), b"run1");
    }

    #[tokio::test]
    async fn without_a_working_directory_uses_its_own() {
        let env = env();
        env.storage
            .put("kestra:///company/team/_files/q.sql", b"select 1".to_vec())
            .await
            .unwrap();
        env.storage.put("kestra:///x/data.csv", b"a,b".to_vec()).await.unwrap();
        let outcome = run(
            &env,
            TYPE,
            json!({
                "inputs": "{{ {'input.txt': 'Hello World', 'd/data.csv': 'kestra:///x/data.csv', 'q.sql': 'nsfile:///q.sql'} | json }}",
                "outputs": ["*.{txt,sql}", "**.csv", "missing.txt"]
            }),
            json!({}),
        )
        .await
        .unwrap();
        let uris = outcome.outputs["uris"].as_object().unwrap();
        assert_eq!(uris.keys().collect::<Vec<_>>(), ["d/data.csv", "input.txt", "q.sql"]);
        let content = |key: &str| env.storage.get_now(uris[key].as_str().unwrap()).unwrap();
        assert_eq!(content("input.txt"), b"Hello World");
        assert_eq!(content("d/data.csv"), b"a,b");
        assert_eq!(content("q.sql"), b"select 1");
        assert!(uris["input.txt"].as_str().unwrap().ends_with("-input.txt"));
    }

    #[tokio::test]
    async fn refuses_escaping_paths_and_fails_on_render_errors() {
        let env = env();
        for (name, content) in [
            ("../x.txt", "x"),
            ("/etc/x", "x"),
            ("a.txt", "file:///etc/passwd"),
            ("a.txt", "nsfile://ns"),
        ] {
            let error = run(&env, TYPE, json!({"inputs": {name: content}}), json!({}))
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains(name) || error.to_string().contains(content),
                "{error}"
            );
        }
        let error = run(
            &env,
            TYPE,
            json!({"inputs": {"a.txt": "{{ inputs.failed == 'true' ? ko : taskrun.id }}"}}),
            json!({"inputs": {"failed": "true"}}),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("ko"), "{error}");
    }

    #[test]
    fn names() {
        assert_eq!(
            namespace_file_uri("a.b", "/dir/f.sql").unwrap(),
            "kestra:///a/b/_files/dir/f.sql"
        );
        assert_eq!(
            namespace_file_uri("a.b", "other.ns/f.sql").unwrap(),
            "kestra:///other/ns/_files/f.sql"
        );
        assert!(namespace_file_uri("a", "/../f").is_err());
        assert!(stored_name("a/b c%.txt").ends_with("-b+c%25.txt"));
        assert_ne!(stored_name("a/x.txt"), stored_name("b/x.txt"));
    }
}
