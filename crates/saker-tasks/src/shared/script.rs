//! What the script tasks share (Kestra's `AbstractExecScript`, `CommandsWrapper` and the
//! Process task runner): the working directory and its files, the extra render variables
//! (`workingDir`, `outputDir`), the command line, the run itself with the output protocol, and
//! the outputs (`vars`, `exitCode`, `outputFiles`).
//!
//! Scripts always run as local processes. The Docker runner (Kestra's default) is not
//! available: a task that would use it runs as a process too, with a warning, unless
//! `SAKER_DOCKER_RUNNER=fail` asks for a failure instead (see `docs/scripts.md`).

use std::path::{Path, PathBuf};

use saker_core::StateType;
use saker_task::prelude::*;

use super::process::{self, ProcessSpec};
use super::python_fork::{ForkPlan, reads_at_start};
use super::script_protocol::Consumer;
use super::{Glob, InputFiles, LegacyRunner, NamespaceFiles};
use crate::tasks::storage_local_files::{Matcher, fetch, inside, regular_files, stored_name};

/// The canonical type of the Process task runner.
pub const PROCESS_RUNNER: &str = "io.kestra.plugin.core.runner.Process";

/// The properties of `AbstractExecScript` a task's `Params` holds (spliced in by the
/// `script_exec` group); build it with [`exec_props!`](crate::shared::exec_props).
pub struct Exec<'a> {
    pub container_image: &'a Option<Property<String>>,
    pub before_commands: &'a Option<Property<Vec<String>>>,
    pub interpreter: &'a Option<Property<Vec<String>>>,
    pub fail_fast: &'a Option<Property<bool>>,
    pub env: &'a Option<Property<Map<String, Value>>>,
    pub namespace_files: &'a Option<NamespaceFiles>,
    pub input_files: &'a Option<InputFiles>,
    pub output_files: &'a Option<Property<Vec<String>>>,
    pub output_directory: &'a Option<Property<bool>>,
    pub runner: &'a Option<Property<LegacyRunner>>,
}

/// Borrows the `script_exec` properties of a `Params`.
macro_rules! exec_props {
    ($params:expr) => {
        $crate::shared::script::Exec {
            container_image: &$params.container_image,
            before_commands: &$params.before_commands,
            interpreter: &$params.interpreter,
            fail_fast: &$params.fail_fast,
            env: &$params.env,
            namespace_files: &$params.namespace_files,
            input_files: &$params.input_files,
            output_files: &$params.output_files,
            output_directory: &$params.output_directory,
            runner: &$params.runner,
        }
    };
}
pub(crate) use exec_props;

/// The language of a modern script task: its default image and how a `script` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Shell,
    Python,
    Node,
}

impl Lang {
    fn default_image(self) -> &'static str {
        match self {
            Lang::Shell => "ubuntu",
            Lang::Python => "python:3.13-slim",
            Lang::Node => "node",
        }
    }
}

/// The main part of a modern task.
pub enum Body<'a> {
    /// `commands`.
    Commands(&'a Property<Vec<String>>),
    /// `script`.
    Script(&'a Property<String>),
}

/// `dependencies` and friends of the Python tasks.
pub struct PythonDeps<'a> {
    pub dependencies: &'a Option<Property<Vec<String>>>,
    pub python_version: &'a Option<Property<String>>,
    pub package_manager: &'a Option<Property<String>>,
    pub dependency_cache_enabled: &'a Option<Property<bool>>,
}

/// How `SAKER_DOCKER_RUNNER` says to treat tasks meant for the Docker runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DockerPolicy {
    /// Run as a process and log a warning (default).
    Warn,
    /// Fail the task.
    Fail,
    /// Run as a process silently.
    Process,
}

fn docker_policy() -> Result<DockerPolicy, TaskError> {
    match std::env::var("SAKER_DOCKER_RUNNER")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "warn" => Ok(DockerPolicy::Warn),
        "fail" => Ok(DockerPolicy::Fail),
        "process" => Ok(DockerPolicy::Process),
        other => Err(TaskError::Failed(format!(
            "invalid SAKER_DOCKER_RUNNER '{other}': expected warn, fail or process"
        ))),
    }
}

/// Checks the task runner: the Process runner runs here; the Docker runner (explicit, legacy
/// `runner: DOCKER`, or Kestra's default when none is given) runs as a process with a warning,
/// or fails when so configured.
fn check_runner(
    ctx: &RunContext,
    legacy: Option<LegacyRunner>,
    image: Option<String>,
    default_image: &str,
) -> Result<(), TaskError> {
    // Kestra: the deprecated `runner` wins over `taskRunner`.
    let docker = match legacy {
        Some(runner) => runner == LegacyRunner::Docker,
        None => ctx
            .task_runner()
            .is_none_or(|runner| runner.type_name != PROCESS_RUNNER),
    };
    if !docker {
        return Ok(());
    }
    let image = image.unwrap_or_else(|| default_image.to_owned());
    docker_fallback(ctx, &format!("containerImage '{image}'"))
}

/// A legacy task with `runner: DOCKER`.
pub fn check_legacy_docker(ctx: &RunContext) -> Result<(), TaskError> {
    docker_fallback(ctx, "the image of dockerOptions")
}

fn docker_fallback(ctx: &RunContext, image: &str) -> Result<(), TaskError> {
    match docker_policy()? {
        DockerPolicy::Process => Ok(()),
        DockerPolicy::Warn => {
            ctx.logger().warn(format!(
                "Saker has no Docker task runner: the script runs as a local process and {image} is not used \
                 (set `taskRunner: {{type: {PROCESS_RUNNER}}}` to silence this, or SAKER_DOCKER_RUNNER=fail to refuse such tasks)"
            ));
            Ok(())
        }
        DockerPolicy::Fail => Err(TaskError::Failed(format!(
            "this task needs the Docker task runner ({image}), which Saker does not have, and SAKER_DOCKER_RUNNER=fail; \
             use `taskRunner: {{type: {PROCESS_RUNNER}}}` to run it as a local process"
        ))),
    }
}

/// The directory a script runs in: the enclosing `WorkingDirectory`'s, or a fresh temporary
/// one removed at the end of the task.
pub struct Workspace {
    pub dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Workspace {
    pub fn new(ctx: &RunContext) -> Result<Workspace, TaskError> {
        if let Some(dir) = ctx.working_dir() {
            return Ok(Workspace {
                dir: dir.to_path_buf(),
                _temp: None,
            });
        }
        let temp = tempfile::Builder::new()
            .prefix("saker-script-")
            .tempdir()
            .map_err(|e| TaskError::Failed(format!("cannot create a working directory: {e}")))?;
        Ok(Workspace {
            dir: temp.path().to_path_buf(),
            _temp: Some(temp),
        })
    }

    /// A new empty file in the directory, named `<random><suffix>`.
    pub fn new_file(&self, prefix: &str, suffix: &str) -> Result<PathBuf, TaskError> {
        let file = tempfile::Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .tempfile_in(&self.dir)
            .map_err(|e| {
                TaskError::Failed(format!(
                    "cannot create a file in the working directory: {e}"
                ))
            })?;
        let (_, path) = file.keep().map_err(TaskError::failed)?;
        Ok(path)
    }

    /// A new empty directory in the directory, named `<prefix><random>`.
    pub fn new_dir(&self, prefix: &str) -> Result<PathBuf, TaskError> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&self.dir)
            .map_err(|e| {
                TaskError::Failed(format!(
                    "cannot create a directory in the working directory: {e}"
                ))
            })?;
        Ok(dir.keep())
    }
}

impl Drop for Workspace {
    /// Removing the directory is left to a blocking thread when there is a runtime: the task's
    /// result is reported without waiting for the file system (an `rmdir` costs as much as a
    /// few orchestration steps; a tree the script left behind, far more).
    fn drop(&mut self) {
        let Some(temp) = self._temp.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || drop(temp));
            }
            Err(_) => drop(temp),
        }
    }
}

/// Writes `inputFiles` (rendered: name → content or `kestra://`/`nsfile://`/`file://` URI)
/// into the working directory; a null content makes an empty file, like Kestra.
pub async fn write_input_files(
    ctx: &RunContext,
    dir: &Path,
    files: Map<String, Value>,
) -> Result<(), TaskError> {
    for (name, content) in files {
        let path = inside(dir, &name)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                TaskError::Failed(format!(
                    "cannot create the folder of input file '{name}': {e}"
                ))
            })?;
        }
        if let Value::String(uri) = &content
            && uri.starts_with("kestra://")
        {
            saker_task::storage::check_uri(uri).map_err(TaskError::failed)?;
            ctx.storage()
                .get_file(uri, &path)
                .await
                .map_err(TaskError::failed)?;
            continue;
        }
        let bytes = match content {
            Value::Null => Vec::new(),
            Value::String(text) => fetch(ctx, dir, &text).await?,
            other => other.to_string().into_bytes(),
        };
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| TaskError::Failed(format!("cannot write input file '{name}': {e}")))?;
    }
    Ok(())
}

/// A namespace-file include/exclude pattern, matched like Kestra's `PathMatcherPredicate`: a
/// pattern starting with a word character matches at any depth (`main.py` is `**/main.py`).
/// Use it through [`namespace_match`].
pub(crate) fn namespace_glob(pattern: &str) -> Result<Glob, TaskError> {
    let pattern = pattern.strip_prefix("glob:").unwrap_or(pattern);
    let recursive = pattern
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '_');
    let pattern = if recursive {
        format!("**/{pattern}")
    } else {
        pattern.to_owned()
    };
    Glob::new(&pattern)
        .map_err(|e| TaskError::Failed(format!("invalid namespaceFiles pattern '{pattern}': {e}")))
}

/// Whether `path` (relative to the namespace, no leading `/`) matches one of `globs`, tried on
/// the rooted form (`/a/b.txt`) and the relative one (`a/b.txt`) so that both `/a/*.txt` and
/// `*.txt` work.
pub(crate) fn namespace_match(globs: &[Glob], path: &str) -> bool {
    let rooted = format!("/{path}");
    globs.iter().any(|g| g.matches(&rooted) || g.matches(path))
}

/// Copies the namespace files selected by `namespaceFiles` into the working directory
/// (spec §8.2), streaming each one from storage.
pub async fn copy_namespace_files(
    ctx: &RunContext,
    dir: &Path,
    files: &NamespaceFiles,
) -> Result<(), TaskError> {
    if !ctx.render_opt(&files.enabled)?.unwrap_or(true) {
        return Ok(());
    }
    let globs = |patterns: Option<Vec<String>>| -> Result<Vec<Glob>, TaskError> {
        patterns
            .unwrap_or_default()
            .iter()
            .map(|p| namespace_glob(p))
            .collect()
    };
    let include = globs(ctx.render_opt(&files.include)?)?;
    let exclude = globs(ctx.render_opt(&files.exclude)?)?;
    let namespaces = ctx
        .render_opt(&files.namespaces)?
        .unwrap_or_else(|| vec![ctx.info().namespace.clone()]);
    let if_exists = ctx
        .render_opt(&files.if_exists)?
        .unwrap_or_else(|| "OVERWRITE".to_owned());
    if !["OVERWRITE", "FAIL", "WARN", "IGNORE"].contains(&if_exists.as_str()) {
        return Err(TaskError::Failed(format!(
            "invalid namespaceFiles ifExists '{if_exists}': expected OVERWRITE, FAIL, WARN or IGNORE"
        )));
    }
    let per_namespace = ctx
        .render_opt(&files.folder_per_namespace)?
        .unwrap_or(false);
    let mut copied = 0usize;
    for namespace in &namespaces {
        let listed = saker_task::namespace_files::list(ctx.storage(), namespace, "")
            .await
            .map_err(TaskError::failed)?;
        for file in listed {
            let wanted = (include.is_empty() || namespace_match(&include, &file.path))
                && !namespace_match(&exclude, &file.path);
            if !wanted {
                continue;
            }
            let relative = if per_namespace {
                format!("{namespace}/{}", file.path)
            } else {
                file.path.clone()
            };
            let target = inside(dir, &relative)?;
            if tokio::fs::try_exists(&target).await.unwrap_or(false) {
                match if_exists.as_str() {
                    "FAIL" => {
                        return Err(TaskError::Failed(format!(
                            "namespace file '{relative}' already exists in the working directory"
                        )));
                    }
                    "WARN" => {
                        ctx.logger().warn(format!(
                            "namespace file '{relative}' already exists in the working directory; kept"
                        ));
                        continue;
                    }
                    "IGNORE" => continue,
                    _ => {}
                }
            }
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent).await.map_err(|e| {
                    TaskError::Failed(format!("cannot create the folder of '{relative}': {e}"))
                })?;
            }
            ctx.storage()
                .get_file(&file.uri, &target)
                .await
                .map_err(TaskError::failed)?;
            copied += 1;
        }
    }
    ctx.logger().debug(format!(
        "copied {copied} namespace file(s) into the working directory"
    ));
    Ok(())
}

/// Where a `kestra://` URI starts in `text` and where it ends (Kestra's
/// `kestra://[-\p{Alnum}._+~#=/]*`).
fn next_uri(text: &str, from: usize) -> Option<(usize, usize)> {
    let start = from + text[from..].find("kestra://")?;
    let rest = &text[start + "kestra://".len()..];
    let len = rest
        .find(|c: char| !(c.is_alphanumeric() || "-._+~#=/".contains(c)))
        .unwrap_or(rest.len());
    Some((start, start + "kestra://".len() + len))
}

/// Downloads every `kestra://` URI found in `texts` into the working directory and replaces it
/// by the local file's absolute path, as Kestra does before a script runs.
pub struct UriLocalizer<'a> {
    workspace: &'a Workspace,
    done: Vec<(String, String)>,
}

impl<'a> UriLocalizer<'a> {
    pub fn new(workspace: &'a Workspace) -> Self {
        UriLocalizer {
            workspace,
            done: Vec::new(),
        }
    }

    pub async fn localize(&mut self, ctx: &RunContext, text: String) -> Result<String, TaskError> {
        if !text.contains("kestra://") {
            return Ok(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        while let Some((start, end)) = next_uri(&text, at) {
            out.push_str(&text[at..start]);
            let uri = &text[start..end];
            out.push_str(&self.local_path(ctx, uri).await?);
            at = end;
        }
        out.push_str(&text[at..]);
        Ok(out)
    }

    async fn local_path(&mut self, ctx: &RunContext, uri: &str) -> Result<String, TaskError> {
        if let Some((_, path)) = self.done.iter().find(|(known, _)| known == uri) {
            return Ok(path.clone());
        }
        saker_task::storage::check_uri(uri).map_err(|e| {
            TaskError::Failed(format!("cannot download '{uri}' found in the script: {e}"))
        })?;
        let path = self.workspace.new_file("", super::extension_of(uri))?;
        // Streamed to disk: these are often the big files of a pipeline.
        ctx.storage().get_file(uri, &path).await.map_err(|e| {
            TaskError::Failed(format!("cannot download '{uri}' found in the script: {e}"))
        })?;
        let path = path.display().to_string();
        self.done.push((uri.to_owned(), path.clone()));
        Ok(path)
    }
}

/// Renders `env` into strings (null values dropped).
fn render_env(
    ctx: &RunContext,
    env: &Option<Property<Map<String, Value>>>,
) -> Result<Vec<(String, String)>, TaskError> {
    Ok(ctx
        .render_opt(env)?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, value)| match value {
            Value::Null => None,
            Value::String(text) => Some((key, text)),
            other => Some((key, other.to_string())),
        })
        .collect())
}

/// What a run produced, before it becomes the task's outcome.
pub struct Ran {
    pub exit_code: i32,
    pub vars: Map<String, Value>,
    pub metrics: Vec<Metric>,
    pub stdout_lines: u64,
    pub stderr_lines: u64,
}

/// Runs `spec`, streaming its output into the task's logs through the protocol consumer.
pub async fn run_process(
    ctx: &RunContext,
    spec: &ProcessSpec,
    legacy: bool,
) -> Result<Ran, TaskError> {
    ctx.logger().debug(format!(
        "Starting command in {} [{}]",
        spec.cwd.display(),
        spec.argv.join(" ")
    ));
    let mut consumer = Consumer::new(ctx.logger(), legacy);
    let exit = process::run(spec, Some(ctx.cancellation()), |line| consumer.accept(line)).await?;
    if exit.leftovers {
        ctx.logger().warn(
            "The script left background processes running after it ended; they were terminated"
                .to_owned(),
        );
    }
    Ok(Ran {
        exit_code: exit.code,
        vars: consumer.vars,
        metrics: consumer.metrics,
        stdout_lines: consumer.stdout_lines,
        stderr_lines: consumer.stderr_lines,
    })
}

/// Uploads the files of `dir` matching `patterns` (globs relative to `dir`); returns
/// relative path → URI. A pattern matching nothing is reported as a warning.
pub async fn upload_matching(
    ctx: &RunContext,
    dir: &Path,
    patterns: &[String],
) -> Result<Map<String, Value>, TaskError> {
    let mut uris = Map::new();
    let patterns: Vec<&String> = patterns.iter().filter(|p| !p.trim().is_empty()).collect();
    if patterns.is_empty() {
        return Ok(uris);
    }
    let matchers = patterns
        .iter()
        .map(|pattern| Matcher::new(pattern))
        .collect::<Result<Vec<_>, _>>()?;
    let files = list_files(dir).await?;
    let mut used = vec![false; matchers.len()];
    for relative in files {
        let absolute = dir.join(&relative);
        let mut matched = false;
        for (i, matcher) in matchers.iter().enumerate() {
            if matcher.matches(&relative, &absolute) {
                used[i] = true;
                matched = true;
            }
        }
        if matched {
            let uri = upload(ctx, &absolute, &relative).await?;
            uris.insert(relative, Value::String(uri));
        }
    }
    for (pattern, used) in patterns.iter().zip(used) {
        if !used {
            ctx.logger().warn(format!(
                "outputFiles: no file of the working directory matches '{pattern}'"
            ));
        }
    }
    Ok(uris)
}

/// Uploads every file under `dir` (the output directory); keys are relative to it.
pub async fn upload_all(ctx: &RunContext, dir: &Path) -> Result<Map<String, Value>, TaskError> {
    let mut uris = Map::new();
    for relative in list_files(dir).await? {
        let uri = upload(ctx, &dir.join(&relative), &relative).await?;
        uris.insert(relative, Value::String(uri));
    }
    Ok(uris)
}

async fn list_files(dir: &Path) -> Result<Vec<String>, TaskError> {
    let walked = dir.to_path_buf();
    tokio::task::spawn_blocking(move || regular_files(&walked))
        .await
        .map_err(TaskError::failed)?
        .map_err(|e| TaskError::Failed(format!("cannot list the working directory: {e}")))
}

async fn upload(ctx: &RunContext, absolute: &Path, relative: &str) -> Result<String, TaskError> {
    // Streamed from disk: an output file may be far bigger than memory.
    let uri = format!("{}{}", ctx.storage_prefix(), stored_name(relative));
    ctx.storage()
        .put_file(&uri, absolute)
        .await
        .map_err(|e| TaskError::Failed(format!("cannot store output file '{relative}': {e}")))?;
    Ok(uri)
}

/// The outcome of a script: SUCCESS on exit code 0; otherwise FAILED with the outputs
/// gathered so far still attached (Kestra keeps `vars` and `outputFiles` of a failed script).
pub fn outcome(
    ctx: &RunContext,
    exit_code: i32,
    outputs: Map<String, Value>,
    metrics: Vec<Metric>,
) -> TaskOutcome {
    let mut outcome = TaskOutcome {
        outputs,
        state: None,
        metrics,
    };
    if exit_code != 0 {
        ctx.logger()
            .error(format!("Command failed with exit code {exit_code}"));
        outcome.state = Some(StateType::Failed);
    }
    outcome
}

/// Runs a modern script task (`io.kestra.plugin.scripts.{shell,python,node}.*`).
pub async fn run_exec(
    ctx: &mut RunContext,
    exec: Exec<'_>,
    lang: Lang,
    body: Body<'_>,
    python: Option<PythonDeps<'_>>,
) -> Result<TaskOutcome, TaskError> {
    let legacy_runner = ctx.render_opt(exec.runner)?;
    let image = ctx.render_opt(exec.container_image)?;
    check_runner(ctx, legacy_runner, image, lang.default_image())?;

    let workspace = Workspace::new(ctx)?;
    let dir = workspace.dir.clone();
    ctx.set_variable("workingDir", Value::String(dir.display().to_string()));
    // Kestra enables the output directory with `outputDirectory: true`, or for the legacy
    // `runner` property.
    let output_dir = match ctx.render_opt(exec.output_directory)? {
        Some(enabled) => enabled,
        None => legacy_runner.is_some(),
    };
    let output_dir = if output_dir {
        let path = workspace.new_dir("")?;
        ctx.set_variable("outputDir", Value::String(path.display().to_string()));
        Some(path)
    } else {
        None
    };

    if let Some(files) = exec.namespace_files {
        copy_namespace_files(ctx, &dir, files).await?;
    }
    if let Some(files) = exec.input_files {
        let files: Map<String, Value> = ctx.render_property(files)?;
        write_input_files(ctx, &dir, files).await?;
    }

    let mut env = render_env(ctx, exec.env)?;
    env.push(("WORKING_DIR".into(), dir.display().to_string()));
    if let Some(path) = &output_dir {
        env.push(("OUTPUT_DIR".into(), path.display().to_string()));
    }

    let mut python_cmd = None;
    if let Some(deps) = &python {
        env.push(("PYTHONUNBUFFERED".into(), "true".into()));
        env.push(("PIP_ROOT_USER_ACTION".into(), "ignore".into()));
        env.push(("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()));
        let requirements = ctx.render_opt(deps.dependencies)?.unwrap_or_default();
        if !requirements.is_empty() {
            let request = super::python_env::Request {
                requirements,
                python_version: ctx.render_opt(deps.python_version)?,
                package_manager: ctx.render_opt(deps.package_manager)?,
                cache: ctx
                    .render_opt(deps.dependency_cache_enabled)?
                    .unwrap_or(true),
            };
            let venv = super::python_env::prepare(ctx, &request, &dir).await?;
            ctx.logger().info(format!(
                "Python environment {} in {} ms",
                if venv.cached {
                    "reused from the cache"
                } else {
                    "installed"
                },
                venv.took.as_millis()
            ));
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut paths = vec![venv.dir.join("bin")];
            paths.extend(std::env::split_paths(&path));
            let joined = std::env::join_paths(paths).map_err(TaskError::failed)?;
            env.push(("PATH".into(), joined.to_string_lossy().into_owned()));
            env.push(("VIRTUAL_ENV".into(), venv.dir.display().to_string()));
            python_cmd = Some(venv.python.display().to_string());
        }
    }

    let mut localizer = UriLocalizer::new(&workspace);
    let mut commands = Vec::new();
    let mut fork = None;
    match body {
        Body::Commands(list) => {
            for command in ctx.render_property(list)? {
                commands.push(localizer.localize(ctx, command).await?);
            }
        }
        Body::Script(script) => {
            let text = ctx.render_property(script)?;
            let text = localizer.localize(ctx, text).await?;
            match lang {
                Lang::Shell => commands.push(text),
                Lang::Python | Lang::Node => {
                    let (suffix, program) = if lang == Lang::Python {
                        (
                            ".py",
                            python_cmd
                                .clone()
                                .unwrap_or_else(super::python_env::default_python),
                        )
                    } else {
                        (".js", "node".to_owned())
                    };
                    let path = workspace.new_file("", suffix)?;
                    tokio::fs::write(&path, text).await.map_err(|e| {
                        TaskError::Failed(format!("cannot write the script file: {e}"))
                    })?;
                    commands.push(format!("{program} {}", path.display()));
                    if lang == Lang::Python && program.starts_with('/') {
                        fork = Some(ForkPlan {
                            python: program,
                            script: path,
                        });
                    }
                }
            }
        }
    }
    let mut before = Vec::new();
    if ctx.render_opt(exec.fail_fast)?.unwrap_or(true) {
        before.push("set -e".to_owned());
    }
    for command in ctx.render_opt(exec.before_commands)?.unwrap_or_default() {
        before.push(localizer.localize(ctx, command).await?);
    }
    let interpreter = match ctx.render_opt(exec.interpreter)? {
        Some(list) if !list.is_empty() => {
            fork = None;
            list
        }
        _ => vec!["/bin/sh".to_owned(), "-c".to_owned()],
    };
    // The fork server runs exactly `python script`: nothing else may be in the command line,
    // and Python must not need to read the task's environment while starting.
    if before.len() > 1
        || (before.len() == 1 && before[0] != "set -e")
        || env.iter().any(|(name, _)| reads_at_start(name))
    {
        fork = None;
    }
    let mut argv = Vec::with_capacity(interpreter.len() + 1);
    for part in interpreter {
        argv.push(localizer.localize(ctx, part).await?);
    }
    before.extend(commands);
    argv.push(before.join("\n"));

    let spec = ProcessSpec {
        argv,
        env,
        cwd: dir.clone(),
        fork,
    };
    let ran = run_process(ctx, &spec, false).await?;

    let mut output_files = Map::new();
    if let Some(path) = &output_dir {
        output_files.extend(upload_all(ctx, path).await?);
    }
    let patterns = ctx.render_opt(exec.output_files)?.unwrap_or_default();
    output_files.extend(upload_matching(ctx, &dir, &patterns).await?);

    let mut outputs = Map::new();
    outputs.insert("vars".into(), Value::Object(ran.vars));
    outputs.insert("exitCode".into(), Value::from(ran.exit_code));
    outputs.insert("outputFiles".into(), Value::Object(output_files));
    Ok(outcome(ctx, ran.exit_code, outputs, ran.metrics))
}

#[cfg(test)]
mod tests {
    use super::next_uri;

    #[test]
    fn finds_kestra_uris_like_kestras_pattern() {
        let text = "cat kestra:///a/b/c-1_x.csv | grep 'kestra:///x/é+~#=y' ; echo kestra://";
        let (s, e) = next_uri(text, 0).unwrap();
        assert_eq!(&text[s..e], "kestra:///a/b/c-1_x.csv");
        let (s2, e2) = next_uri(text, e).unwrap();
        assert_eq!(&text[s2..e2], "kestra:///x/é+~#=y");
        let (s3, e3) = next_uri(text, e2).unwrap();
        assert_eq!(&text[s3..e3], "kestra://");
        assert!(next_uri(text, e3).is_none());
    }
}

/// The script tasks run end to end, with real processes, against in-memory services.
#[cfg(test)]
mod run_tests {
    use super::{PROCESS_RUNNER, Workspace};
    use crate::test_support::{env, run_in};
    use saker_core::StateType;
    use saker_task::memory::{MemoryEnv, test_info};
    use saker_task::storage::Storage;
    use saker_task::{RunContext, TaskRunnerDef};
    use serde_json::{Value, json};

    const SHELL: &str = "io.kestra.plugin.scripts.shell.Commands";

    fn process_ctx(env: &MemoryEnv, ty: &str) -> RunContext {
        env.context(test_info("task1", ty), json!({}))
            .with_task_runner(Some(TaskRunnerDef {
                type_name: PROCESS_RUNNER.into(),
                params: Default::default(),
            }))
    }

    async fn run(env: &MemoryEnv, ty: &str, props: Value) -> saker_task::TaskOutcome {
        let mut ctx = process_ctx(env, ty);
        run_in(&mut ctx, ty, props).await.unwrap()
    }

    /// The temporary working directory goes away after the task, whether the workspace is
    /// dropped inside a runtime (on a blocking thread, after the result) or outside one (at once).
    #[test]
    fn the_working_directory_is_removed_after_the_task() {
        let env = env();
        let ctx = process_ctx(&env, SHELL);
        let outside = Workspace::new(&ctx).unwrap();
        std::fs::write(outside.dir.join("left.txt"), "x").unwrap();
        let dir = outside.dir.clone();
        drop(outside);
        assert!(!dir.exists());

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let dir = runtime.block_on(async {
            let inside = Workspace::new(&ctx).unwrap();
            std::fs::create_dir(inside.dir.join("sub")).unwrap();
            std::fs::write(inside.dir.join("sub/left.txt"), "x").unwrap();
            let dir = inside.dir.clone();
            drop(inside);
            dir
        });
        // Dropping the runtime waits for its blocking tasks, the removal among them.
        drop(runtime);
        assert!(!dir.exists(), "{} was left behind", dir.display());
    }

    #[tokio::test]
    async fn shell_commands_report_vars_files_and_logs() {
        let env = env();
        env.storage
            .put(
                "kestra:///company/team/flow/executions/e0/data.csv",
                b"a,b\n1,2\n".to_vec(),
            )
            .await
            .unwrap();
        let outcome = run(
            &env,
            SHELL,
            json!({
                "env": {"GREETING": "hi {{ flow.id }}", "N": 3},
                "inputFiles": {"in/data.txt": "inline {{ task.id }}", "copy.csv": "kestra:///company/team/flow/executions/e0/data.csv"},
                "beforeCommands": ["echo before"],
                "commands": [
                    "echo \"$GREETING $N\"",
                    "echo '::{\"outputs\":{\"count\":2,\"wd\":\"{{ workingDir }}\"},\"metrics\":[{\"name\":\"rows\",\"type\":\"counter\",\"value\":2}]}::'",
                    "cat in/data.txt > out.txt; wc -l < kestra:///company/team/flow/executions/e0/data.csv > lines.txt",
                    "test \"$WORKING_DIR\" = \"$PWD\" && echo same-dir",
                    "echo oops >&2"
                ],
                "outputFiles": ["*.txt", "copy.csv"]
            }),
        )
        .await;
        assert_eq!(outcome.state, None);
        let vars = &outcome.outputs["vars"];
        assert_eq!(vars["count"], 2);
        assert!(
            vars["wd"].as_str().unwrap().contains("saker-script-"),
            "{vars}"
        );
        assert_eq!(outcome.outputs["exitCode"], 0);
        assert_eq!(outcome.metrics, [saker_task::Metric::counter("rows", 2.0)]);
        let files = outcome.outputs["outputFiles"].as_object().unwrap();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["copy.csv", "lines.txt", "out.txt"]
        );
        let read = |key: &str| env.storage.get_now(files[key].as_str().unwrap()).unwrap();
        assert_eq!(read("out.txt"), b"inline task1");
        assert_eq!(read("lines.txt"), b"2\n");
        assert_eq!(read("copy.csv"), b"a,b\n1,2\n");
        let logs = env.logs.texts();
        for expected in [
            "INFO before",
            "INFO hi flow 3",
            "INFO same-dir",
            "ERROR oops",
        ] {
            assert!(
                logs.iter().any(|l| l == expected),
                "{expected} missing in {logs:#?}"
            );
        }
        assert!(
            !logs
                .iter()
                .any(|l| l.contains("::{") && !l.starts_with("DEBUG")),
            "{logs:#?}"
        );
        assert!(!logs.iter().any(|l| l.starts_with("WARN")), "{logs:#?}");
    }

    #[tokio::test]
    async fn a_failing_command_fails_the_task_but_keeps_its_outputs() {
        let env = env();
        let outcome = run(
            &env,
            SHELL,
            json!({"commands": [
                "echo '::{\"outputs\":{\"before\":true}}::'",
                "echo partial > part.txt",
                "false",
                "echo never"
            ], "outputFiles": ["part.txt"]}),
        )
        .await;
        assert_eq!(outcome.state, Some(StateType::Failed));
        assert_eq!(outcome.outputs["exitCode"], 1);
        assert_eq!(outcome.outputs["vars"], json!({"before": true}));
        assert!(outcome.outputs["outputFiles"]["part.txt"].is_string());
        let logs = env.logs.texts();
        assert!(
            logs.contains(&"ERROR Command failed with exit code 1".to_owned()),
            "{logs:#?}"
        );
        assert!(!logs.contains(&"INFO never".to_owned()));
        // Without failFast the last command decides.
        let outcome = run(
            &env,
            SHELL,
            json!({"failFast": false, "commands": ["false", "echo after"]}),
        )
        .await;
        assert_eq!(outcome.state, None);
        assert_eq!(outcome.outputs["exitCode"], 0);
    }

    #[tokio::test]
    async fn namespace_files_are_copied_with_include_exclude_and_read_works() {
        use saker_task::namespace_files;
        let env = env();
        for (ns, path, content) in [
            ("company.team", "scripts/run.sh", "echo from-namespace"),
            ("company.team", "scripts/skip.sh", "exit 1"),
            ("company.team", "main.py", "print(1)"),
            ("company.team", "data/big.csv", "x"),
            ("company.other", "lib.sh", "echo other"),
        ] {
            namespace_files::put(&*env.storage, ns, path, content.into())
                .await
                .unwrap();
        }
        let outcome = run(
            &env,
            SHELL,
            json!({
                "namespaceFiles": {"enabled": true, "include": ["scripts/**", "main.py"], "exclude": ["**/skip.sh"]},
                "commands": [
                    "sh scripts/run.sh",
                    "test -f main.py && test ! -e scripts/skip.sh && test ! -e data/big.csv && echo filtered",
                    "echo '::{\"outputs\":{\"read\":\"{{ read('scripts/run.sh') }}\"}}::'"
                ]
            }),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        assert_eq!(
            outcome.outputs["vars"]["read"],
            json!("echo from-namespace")
        );
        let logs = env.logs.texts();
        assert!(
            logs.contains(&"INFO from-namespace".to_owned()),
            "{logs:#?}"
        );
        assert!(logs.contains(&"INFO filtered".to_owned()), "{logs:#?}");

        // Other namespaces, one folder each; a disabled block copies nothing.
        let outcome = run(
            &env,
            SHELL,
            json!({
                "namespaceFiles": {"namespaces": ["company.other"], "folderPerNamespace": true},
                "commands": ["sh company.other/lib.sh"]
            }),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        let outcome = run(
            &env,
            SHELL,
            json!({"namespaceFiles": {"enabled": false}, "commands": ["test ! -e main.py"]}),
        )
        .await;
        assert_eq!(outcome.state, None);

        // read() refuses traversal.
        let info = saker_task::memory::test_info("t", SHELL);
        let ctx = env.context(info, json!({}));
        let error = ctx.render("{{ read('../secret') }}").unwrap_err();
        assert!(
            error.to_string().contains("invalid namespace file path"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn bad_inputs_give_clear_errors_or_warnings() {
        let env = env();
        // A glob matching nothing: success, no file, a warning.
        let outcome = run(
            &env,
            SHELL,
            json!({"commands": ["true"], "outputFiles": ["*.parquet"]}),
        )
        .await;
        assert_eq!(outcome.state, None);
        assert_eq!(outcome.outputs["outputFiles"], json!({}));
        assert!(
            env.logs
                .texts()
                .iter()
                .any(|l| l
                    == "WARN outputFiles: no file of the working directory matches '*.parquet'")
        );
        // An input file outside the working directory.
        let mut ctx = process_ctx(&env, SHELL);
        let error = run_in(
            &mut ctx,
            SHELL,
            json!({"commands": ["true"], "inputFiles": {"../escape.txt": "x"}}),
        )
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("invalid input file name '../escape.txt'"),
            "{error}"
        );
        // A missing interpreter.
        let error = run_in(
            &mut ctx,
            SHELL,
            json!({"commands": ["true"], "interpreter": ["/usr/bin/no-such-shell", "-c"]}),
        )
        .await
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("cannot start '/usr/bin/no-such-shell'") && text.contains("No such file"),
            "{text}"
        );
        // A kestra:// URI in the commands that does not exist.
        let error = run_in(
            &mut ctx,
            SHELL,
            json!({"commands": ["cat kestra:///company/team/missing.csv"]}),
        )
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot download 'kestra:///company/team/missing.csv'"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn docker_runner_falls_back_to_a_process_with_a_warning() {
        let env = env();
        let mut ctx = env.context(test_info("task1", SHELL), json!({}));
        let outcome = run_in(
            &mut ctx,
            SHELL,
            json!({"commands": ["echo ran"], "containerImage": "alpine:3"}),
        )
        .await
        .unwrap();
        assert_eq!(outcome.state, None);
        let logs = env.logs.texts();
        assert!(
            logs.iter()
                .any(|l| l.starts_with("WARN Saker has no Docker task runner")
                    && l.contains("containerImage 'alpine:3' is not used")),
            "{logs:#?}"
        );
        assert!(logs.contains(&"INFO ran".to_owned()));
    }

    #[tokio::test]
    async fn shell_script_and_output_directory() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.plugin.scripts.shell.Script",
            json!({"outputDirectory": true, "script": "set -u\necho data > {{ outputDir }}/r.txt\necho \"$OUTPUT_DIR\" | grep -q '{{ outputDir }}' && echo ok"}),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        let uri = outcome.outputs["outputFiles"]["r.txt"].as_str().unwrap();
        assert_eq!(env.storage.get_now(uri).unwrap(), b"data\n");
        assert!(env.logs.texts().contains(&"INFO ok".to_owned()));
    }

    #[tokio::test]
    async fn python_and_node_scripts_run() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.plugin.scripts.python.Script",
            json!({"script": "import json, sys\nprint('::' + json.dumps({'outputs': {'fib': 55, 'flow': '{{ flow.id }}'}}) + '::')\nprint('warn', file=sys.stderr)"}),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        assert_eq!(outcome.outputs["vars"], json!({"fib": 55, "flow": "flow"}));
        let outcome = run(
            &env,
            "io.kestra.plugin.scripts.node.Script",
            json!({"script": "console.log('::' + JSON.stringify({outputs: {n: 1 + 1}}) + '::')"}),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        assert_eq!(outcome.outputs["vars"], json!({"n": 2}));
        let outcome = run(
            &env,
            "io.kestra.plugin.scripts.python.Commands",
            json!({"inputFiles": {"main.py": "print('from main')"}, "commands": ["python3 main.py"]}),
        )
        .await;
        assert_eq!(outcome.state, None);
        assert!(env.logs.texts().contains(&"INFO from main".to_owned()));
    }

    /// The command line of `pid`'s parent, NULs as spaces.
    fn parent_marker() -> &'static str {
        "import os\nparent = open('/proc/%d/cmdline' % os.getppid()).read()\nprint('parent:', 'fork-server' if 'Saker' in parent and 'fork server' in parent else parent.split(chr(0))[0])\n"
    }

    #[tokio::test]
    async fn python_scripts_run_in_the_fork_server_like_a_fresh_interpreter() {
        let env = env();
        let script = format!(
            "{}import os, sys, json\nassert __name__ == '__main__'\nassert sys.argv[0] == __file__ and sys.path[0] == os.path.dirname(__file__)\nprint('cwd-ok', os.getcwd() == os.environ['WORKING_DIR'] == os.environ['PWD'])\nprint('pgid-ok', os.getpgid(0) == os.getpid())\nprint('::' + json.dumps({{'outputs': {{'v': os.environ['MY_VAR']}}}}) + '::')\nf = open('left-open.txt', 'w'); f.write('flushed')\nimport atexit; atexit.register(lambda: print('atexit ran'))\nprint('to stderr', file=sys.stderr)\nsys.exit(3)\n",
            parent_marker()
        );
        let outcome = run(
            &env,
            "io.kestra.plugin.scripts.python.Script",
            json!({"script": script, "env": {"MY_VAR": "x"}, "outputFiles": ["left-open.txt"]}),
        )
        .await;
        let logs = env.logs.texts();
        assert_eq!(outcome.state, Some(StateType::Failed), "{logs:#?}");
        assert_eq!(outcome.outputs["exitCode"], json!(3));
        assert_eq!(outcome.outputs["vars"], json!({"v": "x"}));
        for line in [
            "INFO parent: fork-server",
            "INFO cwd-ok True",
            "INFO pgid-ok True",
            "INFO atexit ran",
            "ERROR Command failed with exit code 3",
        ] {
            assert!(logs.contains(&line.to_owned()), "{line}: {logs:#?}");
        }
        assert!(logs.iter().any(|l| l.ends_with("to stderr")), "{logs:#?}");
        let uri = outcome.outputs["outputFiles"]["left-open.txt"]
            .as_str()
            .unwrap();
        assert_eq!(env.storage.get_now(uri).unwrap(), b"flushed");

        // An uncaught exception: the interpreter's traceback, without the server's frame.
        let env = crate::test_support::env();
        let outcome = run(
            &env,
            "io.kestra.plugin.scripts.python.Script",
            json!({"script": "def f():\n    raise ValueError('boom')\nf()\n"}),
        )
        .await;
        let logs = env.logs.texts();
        assert_eq!(outcome.outputs["exitCode"], json!(1), "{logs:#?}");
        assert!(
            logs.iter().any(|l| l.ends_with("ValueError: boom")),
            "{logs:#?}"
        );
        assert!(logs.iter().any(|l| l.contains("in f")), "{logs:#?}");
        assert!(!logs.iter().any(|l| l.contains("<string>")), "{logs:#?}");
    }

    #[tokio::test]
    async fn python_scripts_that_change_the_command_line_run_in_a_fresh_interpreter() {
        for extra in [
            json!({"beforeCommands": ["echo before"]}),
            json!({"interpreter": ["/bin/bash", "-c"]}),
            json!({"env": {"PYTHONPATH": "/nowhere"}}),
        ] {
            let env = env();
            let mut props = json!({"script": parent_marker()});
            props
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let outcome = run(&env, "io.kestra.plugin.scripts.python.Script", props).await;
            let logs = env.logs.texts();
            assert_eq!(outcome.state, None, "{extra}: {logs:#?}");
            // A shell may exec the interpreter in its place: the parent is then the worker.
            assert!(
                logs.iter()
                    .any(|l| l.starts_with("INFO parent: ") && !l.ends_with("fork-server")),
                "{extra}: {logs:#?}"
            );
        }
    }

    #[tokio::test]
    async fn a_kill_stops_a_forked_python_script_and_its_children() {
        let env = env();
        let cancel = tokio_util::sync::CancellationToken::new();
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let ty = "io.kestra.plugin.scripts.python.Script";
        let mut ctx = env
            .context_with_cancel(test_info("task1", ty), json!({}), cancel.clone())
            .with_task_runner(Some(TaskRunnerDef {
                type_name: PROCESS_RUNNER.into(),
                params: Default::default(),
            }));
        let script = format!(
            "{}import os, subprocess, time\nchild = subprocess.Popen(['sleep', '100'])\nwith open('{p}.tmp', 'w') as f: f.write('%d\\n%d\\n' % (child.pid, os.getpid()))\nos.rename('{p}.tmp', '{p}')\ntime.sleep(100)\n",
            parent_marker(),
            p = pids.display()
        );
        let task =
            tokio::spawn(async move { run_in(&mut ctx, ty, json!({"script": script})).await });
        while !pids.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            env.logs
                .texts()
                .contains(&"INFO parent: fork-server".to_owned())
        );
        let start = std::time::Instant::now();
        cancel.cancel();
        let result = task.await.unwrap();
        assert_eq!(result.unwrap_err(), saker_task::TaskError::Killed);
        let pids: Vec<i32> = std::fs::read_to_string(&pids)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(pids.len(), 2);
        while pids
            .iter()
            .any(|pid| crate::shared::process::tests::process_exists(*pid))
        {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "still running: {pids:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn a_kill_stops_the_script_and_its_children() {
        let env = env();
        let cancel = tokio_util::sync::CancellationToken::new();
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let mut ctx = env
            .context_with_cancel(test_info("task1", SHELL), json!({}), cancel.clone())
            .with_task_runner(Some(TaskRunnerDef {
                type_name: PROCESS_RUNNER.into(),
                params: Default::default(),
            }));
        let script = format!(
            "sleep 100 & echo $! > {p}; echo $$ >> {p}; wait",
            p = pids.display()
        );
        let task =
            tokio::spawn(
                async move { run_in(&mut ctx, SHELL, json!({"commands": [script]})).await },
            );
        while std::fs::read_to_string(&pids)
            .map(|t| t.lines().count())
            .unwrap_or(0)
            < 2
        {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let start = std::time::Instant::now();
        cancel.cancel();
        let result = task.await.unwrap();
        assert_eq!(result.unwrap_err(), saker_task::TaskError::Killed);
        let pids: Vec<i32> = std::fs::read_to_string(&pids)
            .unwrap()
            .lines()
            .map(|l| l.parse().unwrap())
            .collect();
        while pids
            .iter()
            .any(|pid| crate::shared::process::tests::process_exists(*pid))
        {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(1),
                "still running: {pids:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn legacy_bash_output_files_and_line_counts() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.core.tasks.scripts.Bash",
            json!({
                "outputFiles": ["first"],
                "outputDirs": ["dir"],
                "inputFiles": {"in.txt": "hello"},
                "commands": [
                    "cat in.txt > {{ outputFiles.first }}",
                    "echo two > {{ outputDirs.dir }}/two.txt",
                    "echo '::{\"outputs\":{\"k\":\"v\"}}::'",
                    "echo err >&2"
                ]
            }),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        let out = &outcome.outputs;
        assert_eq!(out["vars"], json!({"k": "v"}));
        assert_eq!(
            (
                out["stdOutLineCount"].clone(),
                out["stdErrLineCount"].clone()
            ),
            (json!(1), json!(1))
        );
        assert_eq!(
            env.storage
                .get_now(out["outputFiles"]["first"].as_str().unwrap())
                .unwrap(),
            b"hello"
        );
        assert_eq!(
            env.storage
                .get_now(out["files"]["dir/two.txt"].as_str().unwrap())
                .unwrap(),
            b"two\n"
        );
        assert!(env.logs.texts().contains(&"WARN err".to_owned()));
        let outcome = run(
            &env,
            "io.kestra.core.tasks.scripts.Bash",
            json!({"commands": ["exit 4", "echo no"]}),
        )
        .await;
        assert_eq!(outcome.state, Some(StateType::Failed));
        assert_eq!(outcome.outputs["exitCode"], 4);
        let mut ctx = process_ctx(&env, "io.kestra.core.tasks.scripts.Bash");
        let error = run_in(
            &mut ctx,
            "io.kestra.core.tasks.scripts.Bash",
            json!({"commands": ["true"], "outputFiles": ["../x"]}),
        )
        .await
        .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("only relative path is supported"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn legacy_python_runs_main_py_in_a_virtual_environment() {
        let env = env();
        let ty = "io.kestra.core.tasks.scripts.Python";
        let main = "import sys\nprint('+'.join(sys.argv[1:]), sys.prefix != sys.base_prefix)\nprint('::{\"outputs\": {\"ok\": 1}}::')";
        let outcome = run(
            &env,
            ty,
            json!({"inputFiles": {"main.py": main}, "args": ["a", "b"]}),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        // `./bin/python` is the cached virtual environment's interpreter.
        assert!(
            env.logs.texts().contains(&"INFO a+b True".to_owned()),
            "{:#?}",
            env.logs.texts()
        );
        assert_eq!(outcome.outputs["vars"]["ok"], 1);
        let mut ctx = process_ctx(&env, ty);
        let error = run_in(&mut ctx, ty, json!({"inputFiles": {"other.py": ""}}))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("at least a main.py key"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn legacy_node_runs_main_js() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.core.tasks.scripts.Node",
            json!({"inputFiles": {"main.js": "console.log(process.argv.slice(2).join('+'))"}, "args": ["a", "b"]}),
        )
        .await;
        assert_eq!(outcome.state, None, "{:#?}", env.logs.texts());
        assert!(env.logs.texts().contains(&"INFO a+b".to_owned()));
    }
}
