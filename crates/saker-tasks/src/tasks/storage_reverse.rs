//! `io.kestra.plugin.core.storage.Reverse`: writes the lines of a file in reverse order.

use saker_task::prelude::*;

use crate::shared::extension_of;

/// Properties of `Reverse`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the file.
    pub from: Property<String>,
    /// Line separator (default `\n`).
    pub separator: Option<Property<String>>,
    /// Charset (default `UTF-8`).
    pub charset: Option<Property<String>>,
}

/// Runs `storage.Reverse`.
pub struct Reverse;

impl RunnableTask for Reverse {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let from = ctx.render_property(&params.from)?;
        let separator = ctx
            .render_opt(&params.separator)?
            .unwrap_or_else(|| "\n".to_owned());
        check_charset(ctx.render_opt(&params.charset)?)?;
        let text = ctx.read_text(&from).await?;
        let mut lines: Vec<&str> = text.split(separator.as_str()).collect();
        // A trailing separator ends the last line; it does not start an empty one.
        if lines.last() == Some(&"") {
            lines.pop();
        }
        let mut reversed = String::with_capacity(text.len() + separator.len());
        for line in lines.iter().rev() {
            reversed.push_str(line);
            reversed.push_str(&separator);
        }
        let uri = ctx
            .put_file(extension_of(&from), reversed.into_bytes())
            .await?;
        Ok(TaskOutcome::empty().with("uri", uri))
    }
}

/// Only UTF-8 is supported; other charsets fail clearly instead of corrupting text.
fn check_charset(charset: Option<String>) -> Result<(), TaskError> {
    match charset {
        Some(charset) if !matches!(charset.to_ascii_uppercase().as_str(), "UTF-8" | "UTF8") => {
            Err(TaskError::Failed(format!(
                "unsupported charset '{charset}': only UTF-8 is supported"
            )))
        }
        _ => Ok(()),
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.Reverse",
    aliases: [
        "io.kestra.core.tasks.storages.Reverse",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Reverse the lines of a file.",
    slots: [],
    params: Params,
    runnable: Reverse,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run};
    use saker_task::storage::Storage;
    use serde_json::json;

    #[tokio::test]
    async fn reverses_lines_and_keeps_the_extension() {
        let env = env();
        env.storage.put("kestra:///x/a.csv", b"1\n2\n3\n".to_vec()).await.unwrap();
        let ty = "io.kestra.plugin.core.storage.Reverse";
        let outcome = run(&env, ty, json!({"from": "kestra:///x/a.csv"}), json!({})).await.unwrap();
        let uri = outcome.outputs["uri"].as_str().unwrap();
        assert!(uri.ends_with(".csv"), "{uri}");
        assert_eq!(env.storage.get_now(uri).unwrap(), b"3\n2\n1\n");
        let error = run(&env, ty, json!({"from": "kestra:///x/a.csv", "charset": "latin1"}), json!({}))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("latin1"), "{error}");
    }
}
