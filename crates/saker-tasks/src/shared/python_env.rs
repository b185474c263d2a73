//! Python virtual environments for the `dependencies` of Python script tasks, cached across
//! executions: one environment per (interpreter, sorted requirement list, installer), built
//! once under a file lock (two tasks asking for the same one at the same time build it once) and
//! reused until the cache directory is cleared. Kestra reinstalls the packages on every run;
//! this is the difference users notice.
//!
//! Where: `$SAKER_CACHE_DIR/venvs`, else `$XDG_CACHE_HOME/saker/venvs`, else
//! `~/.cache/saker/venvs`. With `uv` on PATH (and `packageManager` not `PIP`) `uv venv` and
//! `uv pip install` build it; otherwise `python -m venv` and pip.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use saker_task::{Level, RunContext, TaskError};

use super::process::{self, ProcessSpec, Stream};

/// A ready environment.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    /// The environment's directory (`VIRTUAL_ENV`).
    pub dir: PathBuf,
    /// Its interpreter.
    pub python: PathBuf,
    /// Whether it came from the cache.
    pub cached: bool,
    /// Time spent getting it ready.
    pub took: Duration,
}

/// What the task asks for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub requirements: Vec<String>,
    /// `pythonVersion` (e.g. `3.12`).
    pub python_version: Option<String>,
    /// `packageManager`: `UV` or `PIP`.
    pub package_manager: Option<String>,
    /// `dependencyCacheEnabled` (default true); false builds a throw-away environment in the
    /// working directory.
    pub cache: bool,
}

/// The cache root for virtual environments.
pub fn cache_root() -> PathBuf {
    let env = |key: &str| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("SAKER_CACHE_DIR") {
        return dir.join("venvs");
    }
    if let Some(dir) = env("XDG_CACHE_HOME") {
        return dir.join("saker").join("venvs");
    }
    if let Some(home) = env("HOME") {
        return home.join(".cache").join("saker").join("venvs");
    }
    std::env::temp_dir().join("saker-cache").join("venvs")
}

/// `name` as found on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| {
            use std::os::unix::fs::PermissionsExt;
            path.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The Python interpreter used without a virtual environment: `python` like Kestra's images,
/// or `python3` where only that exists, resolved once to the real executable. Version
/// managers (pyenv, asdf) put shell-script shims first on PATH, which cost more than Python's
/// own start-up on every task.
pub fn default_python() -> String {
    static RESOLVED: OnceLock<String> = OnceLock::new();
    RESOLVED
        .get_or_init(|| {
            let name = if which("python").is_some() || which("python3").is_none() {
                "python"
            } else {
                "python3"
            };
            // Blocks for one interpreter start, once per process.
            std::process::Command::new(name)
                .args(["-c", "import sys; print(sys.executable)"])
                .stderr(std::process::Stdio::null())
                .output()
                .ok()
                .filter(|out| out.status.success())
                .and_then(|out| String::from_utf8(out.stdout).ok())
                .map(|text| text.trim().to_owned())
                .filter(|path| !path.is_empty())
                .unwrap_or_else(|| name.to_owned())
        })
        .clone()
}

/// Gets the environment for `request` ready, from the cache when possible.
pub async fn prepare(
    ctx: &RunContext,
    request: &Request,
    work_dir: &Path,
) -> Result<PythonEnv, TaskError> {
    let start = Instant::now();
    let use_uv = !request
        .package_manager
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("PIP"))
        && which("uv").is_some();
    if request
        .package_manager
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case("UV"))
        && !use_uv
    {
        ctx.logger()
            .warn("packageManager UV: `uv` is not on PATH, using pip instead".to_owned());
    }
    let base = base_python(request, use_uv)?;
    let mut requirements = request.requirements.clone();
    requirements.sort();
    requirements.dedup();

    if !request.cache {
        let dir = work_dir.join(".venv");
        build(ctx, &dir, &base, &requirements, use_uv).await?;
        return Ok(ready(dir, false, start));
    }

    let identity = python_identity(ctx, &base, use_uv).await?;
    let key = cache_key(&identity, &requirements, use_uv);
    let root = cache_root();
    std::fs::create_dir_all(&root).map_err(|e| {
        TaskError::Failed(format!(
            "cannot create the Python environment cache '{}': {e}",
            root.display()
        ))
    })?;
    let dir = root.join(&key);
    let lock_path = root.join(format!("{key}.lock"));
    // Blocking wait for the lock on a blocking thread: another task may be building this
    // environment right now; it is then reused as soon as it is ready.
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(TaskError::failed)?
    .map_err(|e| TaskError::Failed(format!("cannot lock the Python environment cache: {e}")))?;
    let marker = dir.join(READY_MARKER);
    if marker.is_file() {
        drop(lock);
        ctx.logger().debug(format!(
            "Reusing the cached Python environment {}",
            dir.display()
        ));
        return Ok(ready(dir, true, start));
    }
    if dir.exists() {
        // Left half-built by an interrupted run.
        std::fs::remove_dir_all(&dir)
            .map_err(|e| TaskError::Failed(format!("cannot clear '{}': {e}", dir.display())))?;
    }
    let built = build(ctx, &dir, &base, &requirements, use_uv).await;
    if built.is_ok() {
        std::fs::write(&marker, requirements.join("\n")).map_err(TaskError::failed)?;
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(lock);
    built?;
    Ok(ready(dir, false, start))
}

const READY_MARKER: &str = ".saker-ready";

fn ready(dir: PathBuf, cached: bool, start: Instant) -> PythonEnv {
    PythonEnv {
        python: dir.join("bin").join("python"),
        dir,
        cached,
        took: start.elapsed(),
    }
}

/// The interpreter the environment is built from.
fn base_python(request: &Request, use_uv: bool) -> Result<String, TaskError> {
    match request.python_version.as_deref().map(str::trim) {
        None | Some("") => Ok(default_python()),
        // uv finds (or downloads) the version itself.
        Some(version) if use_uv => Ok(version.to_owned()),
        Some(version) => {
            let name = format!("python{version}");
            which(&name).map(|_| name).ok_or_else(|| {
                TaskError::Failed(format!(
                    "pythonVersion {version}: no `python{version}` on PATH (install it, install uv, or remove pythonVersion)"
                ))
            })
        }
    }
}

/// What identifies the interpreter for the cache key: its `sys.executable` and full version.
async fn python_identity(ctx: &RunContext, base: &str, use_uv: bool) -> Result<String, TaskError> {
    if use_uv && !base.starts_with("python") && !base.starts_with('/') {
        return Ok(format!("uv:{base}"));
    }
    // Asked once per interpreter and process: the answer only changes with an upgrade in place,
    // which a worker restart picks up.
    static KNOWN: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(identity) = known.lock().unwrap_or_else(|e| e.into_inner()).get(base) {
        return Ok(identity.clone());
    }
    let spec = ProcessSpec {
        argv: vec![
            base.to_owned(),
            "-c".to_owned(),
            "import sys; print(sys.executable); print(sys.version)".to_owned(),
        ],
        env: Vec::new(),
        cwd: std::env::temp_dir(),
        fork: None,
    };
    let mut out = String::new();
    let exit = process::run(&spec, Some(ctx.cancellation()), |line| {
        if line.stream == Stream::Stdout {
            out.push_str(&line.text);
            out.push('\n');
        }
    })
    .await?;
    if exit.code != 0 {
        return Err(TaskError::Failed(format!(
            "'{base}' does not run (exit code {})",
            exit.code
        )));
    }
    known
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(base.to_owned(), out.clone());
    Ok(out)
}

/// The cache directory name: a stable hash of what makes two environments interchangeable.
pub fn cache_key(identity: &str, sorted_requirements: &[String], use_uv: bool) -> String {
    let text = format!(
        "{identity}\n{}\n{}",
        if use_uv { "uv" } else { "pip" },
        sorted_requirements.join("\n")
    );
    // Two FNV-1a passes with different offsets: 128 bits, no collision worth fearing.
    let fnv = |offset: u64| {
        text.bytes().fold(offset, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// Creates the environment in `dir` and installs `requirements` into it.
async fn build(
    ctx: &RunContext,
    dir: &Path,
    base: &str,
    requirements: &[String],
    use_uv: bool,
) -> Result<(), TaskError> {
    let dir_text = dir.display().to_string();
    let python = dir.join("bin").join("python").display().to_string();
    let mut steps: Vec<Vec<String>> = Vec::new();
    if use_uv {
        steps.push(vec![
            "uv".into(),
            "venv".into(),
            "--python".into(),
            base.into(),
            dir_text,
        ]);
        if !requirements.is_empty() {
            let mut install = vec![
                "uv".into(),
                "pip".into(),
                "install".into(),
                "--python".into(),
                python,
            ];
            install.extend(requirements.iter().cloned());
            steps.push(install);
        }
    } else {
        steps.push(vec![base.into(), "-m".into(), "venv".into(), dir_text]);
        if !requirements.is_empty() {
            let mut install = vec![
                python,
                "-m".into(),
                "pip".into(),
                "install".into(),
                "--disable-pip-version-check".into(),
                "--no-input".into(),
            ];
            install.extend(requirements.iter().cloned());
            steps.push(install);
        }
    }
    ctx.logger().info(format!(
        "Installing Python dependencies {requirements:?} into {} ({})",
        dir.display(),
        if use_uv { "uv" } else { "pip" }
    ));
    for argv in steps {
        let spec = ProcessSpec {
            argv: argv.clone(),
            env: vec![("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into())],
            cwd: std::env::temp_dir(),
            fork: None,
        };
        let mut tail: Vec<String> = Vec::new();
        let exit = process::run(&spec, Some(ctx.cancellation()), |line| {
            let level = match line.stream {
                Stream::Stdout => Level::Debug,
                Stream::Stderr => Level::Warn,
            };
            if line.stream == Stream::Stderr {
                if tail.len() == 20 {
                    tail.remove(0);
                }
                tail.push(line.text.clone());
            }
            ctx.logger().log(level, line.text);
        })
        .await?;
        if exit.code != 0 {
            return Err(TaskError::Failed(format!(
                "installing the Python dependencies failed: `{}` exited with code {}{}",
                argv.join(" "),
                exit.code,
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(":\n{}", tail.join("\n"))
                }
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cache_key;

    #[test]
    fn cache_keys_depend_on_every_part() {
        let reqs = |r: &[&str]| r.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = cache_key("py3.11", &reqs(&["a", "b"]), false);
        assert_eq!(a.len(), 32);
        assert_eq!(a, cache_key("py3.11", &reqs(&["a", "b"]), false));
        assert_ne!(a, cache_key("py3.12", &reqs(&["a", "b"]), false));
        assert_ne!(a, cache_key("py3.11", &reqs(&["a"]), false));
        assert_ne!(a, cache_key("py3.11", &reqs(&["a", "b"]), true));
    }
}
