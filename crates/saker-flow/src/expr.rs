//! Expression checks over every string of the flow: Pebble syntax (through `saker_expr::check`)
//! and Kestra's ban on dotted access of dashed ids (`{{ inputs.my-input }}`).

use crate::yaml::{Node, NodeValue, Pos, Style};

/// Whether a string holds a template.
pub(crate) fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// A syntax error in a template, with its 1-based line/column inside the template.
pub(crate) struct TemplateError {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// Checks the syntax of one template.
pub(crate) fn check_template(s: &str) -> Result<(), TemplateError> {
    saker_expr::check(s).map_err(|e| TemplateError {
        message: e.message,
        line: e.line,
        column: e.column,
    })
}

/// Maps a position inside the text of string node `node` to a file position. Exact for
/// single-line plain/quoted scalars and literal block scalars, approximate otherwise.
pub(crate) fn map_pos(node: &Node, source: &str, line: u32, column: u32) -> Pos {
    let line = line.max(1);
    let column = column.max(1);
    match node.style {
        Style::Plain | Style::Quoted => {
            let shift = u32::from(node.style == Style::Quoted);
            if line == 1 {
                Pos {
                    line: node.pos.line,
                    column: node.pos.column + shift + column - 1,
                }
            } else {
                Pos {
                    line: node.pos.line + line - 1,
                    column,
                }
            }
        }
        Style::Block => {
            // The node may start at the `|`/`>` header or at the first content line.
            let at_header = source
                .lines()
                .nth(node.pos.line.saturating_sub(1) as usize)
                .and_then(|l| l.chars().nth(node.pos.column.saturating_sub(1) as usize))
                .is_some_and(|c| c == '|' || c == '>');
            let file_line = node.pos.line + line - u32::from(!at_header);
            let indent = source
                .lines()
                .nth(file_line as usize - 1)
                .map_or(0, |l| l.chars().take_while(|c| *c == ' ').count())
                as u32;
            Pos {
                line: file_line,
                column: indent + column,
            }
        }
    }
}

/// Finds dotted access of a dashed id inside the template blocks of `s`: `inputs.my-input` or
/// `outputs.my-task` where `my-input`/`my-task` is one of `ids`. Returns the offending text and
/// its character offset.
pub(crate) fn dashed_access(s: &str, root: &str, ids: &[String]) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let needle = format!("{root}.");
    for (open, close) in [("{{", "}}"), ("{%", "%}")] {
        let mut rest = s;
        let mut base = 0;
        while let Some(start) = rest.find(open) {
            let after = &rest[start + 2..];
            let end = after.find(close).unwrap_or(after.len());
            let block = &after[..end];
            let block_off = base + start + 2;
            let mut search = 0;
            while let Some(i) = block[search..].find(&needle) {
                let at = search + i;
                // `myinputs.x` is not `inputs.x`.
                let prev_ok = block[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'));
                let name_start = at + needle.len();
                let name: String = block[name_start..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                if prev_ok && name.contains('-') {
                    // Longest id that the dashed name starts with, ending on a boundary.
                    if let Some(id) = ids
                        .iter()
                        .filter(|id| name.starts_with(id.as_str()) && id.contains('-'))
                        .max_by_key(|id| id.len())
                    {
                        let char_off = s[..block_off + at].chars().count();
                        found.push((format!("{root}.{id}"), char_off));
                    }
                }
                search = name_start;
            }
            let consumed = start + 2 + end;
            base += consumed;
            rest = &rest[consumed..];
        }
    }
    found
}

/// Every string node below `node` with its path, skipping keys for which `skip` says so.
pub(crate) fn strings<'n>(
    node: &'n Node,
    path: &str,
    skip: &dyn Fn(&str) -> bool,
    out: &mut Vec<(&'n Node, String)>,
) {
    let mut work = vec![(node, path.to_string())];
    while let Some((n, p)) = work.pop() {
        match &n.value {
            NodeValue::Str(s) if has_template(s) => out.push((n, p)),
            NodeValue::Map(entries) => {
                for e in entries.iter().rev() {
                    if !skip(&e.key) {
                        work.push((&e.value, crate::yaml::join_key(&p, &e.key)));
                    }
                }
            }
            NodeValue::Seq(items) => {
                for (i, it) in items.iter().enumerate().rev() {
                    work.push((it, crate::yaml::join_index(&p, i)));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashed_access_only_for_known_dashed_ids() {
        let ids = vec!["my-input".to_string(), "plain".to_string()];
        let hits = dashed_access(
            "a {{ inputs.my-input }} {{ inputs['my-input'] }} {{ inputs.plain-1 }}",
            "inputs",
            &ids,
        );
        assert_eq!(hits, vec![("inputs.my-input".to_string(), 5)]);
        assert!(dashed_access("{{ myinputs.my-input }}", "inputs", &ids).is_empty());
        assert!(dashed_access("inputs.my-input outside", "inputs", &ids).is_empty());
    }

    #[test]
    fn positions_inside_scalars() {
        let n = Node {
            value: NodeValue::Str("x".into()),
            pos: Pos {
                line: 3,
                column: 10,
            },
            style: Style::Quoted,
        };
        assert_eq!(
            map_pos(&n, "", 1, 4),
            Pos {
                line: 3,
                column: 14
            }
        );
        let src = "a:\n  b: |\n    line1\n    {{ x }\n";
        let n = Node {
            value: NodeValue::Str("x".into()),
            pos: Pos { line: 2, column: 6 },
            style: Style::Block,
        };
        assert_eq!(map_pos(&n, src, 2, 1), Pos { line: 4, column: 5 });
    }
}
