//! The deprecated `io.kestra.core.tasks.scripts.{Bash,Python,Node}` tasks (Kestra's
//! `AbstractBash`): `interpreter -c "<commands joined>"` in a working directory, output files
//! declared by name and pre-created (`{{ outputFiles.<name> }}` is their path), output
//! directories, and outputs `vars`, `exitCode`, `stdOutLineCount`, `stdErrLineCount`,
//! `outputFiles` and `files`.

use saker_task::prelude::*;

use super::LegacyRunner;
use super::process::ProcessSpec;
use super::script::{Workspace, outcome, run_process, upload_all, write_input_files};

/// Longest script passed as an argument (Linux's `MAX_ARG_STRLEN`); longer ones go through a
/// file, as Kestra did.
const MAX_ARG: usize = 131_072;

/// The `legacy_script` properties of a `Params`; build it with
/// [`legacy_props!`](crate::shared::legacy_props).
pub struct Legacy<'a> {
    pub interpreter: &'a Option<Property<String>>,
    pub interpreter_args: &'a Option<Property<Vec<String>>>,
    pub exit_on_failed: &'a Option<Property<bool>>,
    pub runner: &'a Option<Property<LegacyRunner>>,
    pub input_files: &'a Option<super::InputFiles>,
    pub output_files: &'a Option<Property<Vec<String>>>,
    pub output_dirs: &'a Option<Property<Vec<String>>>,
    pub outputs_files: &'a Option<Property<Vec<String>>>,
    pub files: &'a Option<Property<Vec<String>>>,
    pub env: &'a Option<Property<Map<String, Value>>>,
}

/// Borrows the `legacy_script` properties of a `Params`.
macro_rules! legacy_props {
    ($params:expr) => {
        $crate::shared::legacy_script::Legacy {
            interpreter: &$params.interpreter,
            interpreter_args: &$params.interpreter_args,
            exit_on_failed: &$params.exit_on_failed,
            runner: &$params.runner,
            input_files: &$params.input_files,
            output_files: &$params.output_files,
            output_dirs: &$params.output_dirs,
            outputs_files: &$params.outputs_files,
            files: &$params.files,
            env: &$params.env,
        }
    };
}
pub(crate) use legacy_props;

/// What the task adds to the shared behaviour.
pub enum Flavor<'a> {
    /// `Bash`: its `commands`.
    Bash(&'a Property<Vec<String>>),
    /// `Python`.
    Python {
        commands: &'a Option<Property<Vec<String>>>,
        python_path: &'a Option<Property<String>>,
        args: &'a Option<Property<Vec<String>>>,
        requirements: &'a Option<Property<Vec<String>>>,
        virtual_env: &'a Option<Property<bool>>,
    },
    /// `Node`.
    Node {
        commands: &'a Option<Property<Vec<String>>>,
        node_path: &'a Option<Property<String>>,
        npm_path: &'a Option<Property<String>>,
        args: &'a Option<Property<Vec<String>>>,
    },
}

/// An output name must stay in the working directory.
fn check_name(name: &str) -> Result<(), TaskError> {
    if name.starts_with("./") || name.starts_with("..") || name.starts_with('/') || name.is_empty()
    {
        return Err(TaskError::Failed(format!(
            "Invalid outputFile (only relative path is supported) for path '{name}'"
        )));
    }
    Ok(())
}

/// Runs one of the legacy script tasks.
pub async fn run_legacy(
    ctx: &mut RunContext,
    props: Legacy<'_>,
    flavor: Flavor<'_>,
) -> Result<TaskOutcome, TaskError> {
    let runner = ctx.render_opt(props.runner)?;
    if runner == Some(LegacyRunner::Docker) {
        super::script::check_legacy_docker(ctx)?;
    }
    let workspace = Workspace::new(ctx)?;
    let dir = workspace.dir.clone();
    ctx.set_variable("workingDir", Value::String(dir.display().to_string()));

    // Output files: pre-created, their paths exposed as `outputFiles.<name>` (and `temp`).
    let mut names = Vec::new();
    for list in [props.output_files, props.outputs_files, props.files] {
        names.extend(ctx.render_opt(list)?.unwrap_or_default());
    }
    let mut output_paths = Map::new();
    for name in &names {
        check_name(name)?;
        let path = workspace.new_file(&format!("{name}_"), ".tmp")?;
        output_paths.insert(name.clone(), Value::String(path.display().to_string()));
    }
    if !output_paths.is_empty() {
        ctx.set_variable("outputFiles", Value::Object(output_paths.clone()));
        ctx.set_variable("temp", Value::Object(output_paths.clone()));
    }
    let mut output_dirs = Map::new();
    for name in ctx.render_opt(props.output_dirs)?.unwrap_or_default() {
        check_name(&name)?;
        let path = workspace.new_dir(&format!("{name}_"))?;
        output_dirs.insert(name, Value::String(path.display().to_string()));
    }
    if !output_dirs.is_empty() {
        ctx.set_variable("outputDirs", Value::Object(output_dirs.clone()));
    }

    let input_files: Map<String, Value> = match props.input_files {
        Some(files) => ctx.render_property(files)?,
        None => Map::new(),
    };
    let has_input = |name: &str| input_files.contains_key(name);
    let mut lines = Vec::new();
    if ctx.render_opt(props.exit_on_failed)?.unwrap_or(true) {
        lines.push("set -o errexit".to_owned());
    }
    let mut env = Vec::new();
    match flavor {
        Flavor::Bash(commands) => lines.extend(ctx.render_property(commands)?),
        Flavor::Python {
            commands,
            python_path,
            args,
            requirements,
            virtual_env,
        } => {
            env.push(("PYTHONUNBUFFERED".to_owned(), "true".to_owned()));
            let commands = ctx.render_opt(commands)?;
            if commands.is_none() && !has_input("main.py") {
                return Err(TaskError::failed(
                    "Invalid input files structure, expecting inputFiles property to contain at least a main.py key with python code value.",
                ));
            }
            let args = ctx
                .render_opt(args)?
                .map(|a| format!(" {}", a.join(" ")))
                .unwrap_or_default();
            if ctx.render_opt(virtual_env)?.unwrap_or(true) {
                // `./bin/python` of the legacy task: wrappers around a cached environment.
                let request = super::python_env::Request {
                    requirements: ctx.render_opt(requirements)?.unwrap_or_default(),
                    python_version: None,
                    package_manager: None,
                    cache: true,
                };
                let venv = super::python_env::prepare(ctx, &request, &dir).await?;
                let bin = dir.join("bin");
                std::fs::create_dir_all(&bin).map_err(TaskError::failed)?;
                for tool in ["python", "python3", "pip"] {
                    let target = venv.dir.join("bin").join(tool);
                    let path = bin.join(tool);
                    std::fs::write(
                        &path,
                        format!("#!/bin/sh\nexec '{}' \"$@\"\n", target.display()),
                    )
                    .map_err(TaskError::failed)?;
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                        .map_err(TaskError::failed)?;
                }
            } else if ctx.render_opt(python_path)?.is_some() {
                ctx.logger()
                    .debug("virtualEnv is false: requirements are not installed".to_owned());
            }
            let commands = commands.unwrap_or_else(|| vec!["./bin/python main.py".to_owned()]);
            lines.extend(commands.into_iter().map(|c| format!("{c}{args}")));
        }
        Flavor::Node {
            commands,
            node_path,
            npm_path,
            args,
        } => {
            let node = ctx
                .render_opt(node_path)?
                .unwrap_or_else(|| "node".to_owned());
            let npm = ctx
                .render_opt(npm_path)?
                .unwrap_or_else(|| "npm".to_owned());
            let args = ctx
                .render_opt(args)?
                .map(|a| format!(" {}", a.join(" ")))
                .unwrap_or_default();
            match ctx.render_opt(commands)? {
                Some(commands) => lines.extend(commands),
                None => {
                    if !has_input("main.js") {
                        return Err(TaskError::failed(
                            "Invalid input files structure, expecting inputFiles property to contain at least a main.js key with javascript code value.",
                        ));
                    }
                    if has_input("package.json") {
                        lines.push(format!("{npm} i > /dev/null"));
                    }
                    lines.push(format!("{node} main.js{args}"));
                }
            }
        }
    }
    write_input_files(ctx, &dir, input_files).await?;
    env.extend(
        ctx.render_opt(props.env)?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::Null => None,
                Value::String(s) => Some((k, s)),
                other => Some((k, other.to_string())),
            }),
    );

    let script = lines.join("\n");
    let interpreter = ctx
        .render_opt(props.interpreter)?
        .unwrap_or_else(|| "/bin/sh".to_owned());
    let mut argv = vec![interpreter];
    if script.len() > MAX_ARG {
        let path = workspace.new_file("bash", ".sh")?;
        std::fs::write(&path, &script).map_err(TaskError::failed)?;
        argv.push(path.display().to_string());
    } else {
        argv.extend(
            ctx.render_opt(props.interpreter_args)?
                .unwrap_or_else(|| vec!["-c".to_owned()]),
        );
        argv.push(script);
    }
    let spec = ProcessSpec {
        argv,
        env,
        cwd: dir.clone(),
        fork: None,
    };
    let ran = run_process(ctx, &spec, true).await?;

    let mut uploaded = Map::new();
    for (name, path) in &output_paths {
        let path = std::path::PathBuf::from(path.as_str().unwrap_or_default());
        if path.is_file() {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| TaskError::Failed(format!("cannot read output file '{name}': {e}")))?;
            let stored = crate::tasks::storage_local_files::stored_name(name);
            uploaded.insert(
                name.clone(),
                Value::String(ctx.put_file_as(&stored, bytes).await?),
            );
        }
    }
    for (name, path) in &output_dirs {
        let path = std::path::PathBuf::from(path.as_str().unwrap_or_default());
        for (relative, uri) in upload_all(ctx, &path).await? {
            uploaded.insert(format!("{name}/{relative}"), uri);
        }
    }
    let mut outputs = Map::new();
    outputs.insert("vars".into(), Value::Object(ran.vars));
    outputs.insert("exitCode".into(), Value::from(ran.exit_code));
    outputs.insert("stdOutLineCount".into(), Value::from(ran.stdout_lines));
    outputs.insert("stdErrLineCount".into(), Value::from(ran.stderr_lines));
    outputs.insert("outputFiles".into(), Value::Object(uploaded.clone()));
    outputs.insert("files".into(), Value::Object(uploaded));
    Ok(outcome(ctx, ran.exit_code, outputs, ran.metrics))
}
