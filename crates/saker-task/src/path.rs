//! Paths inside a plugin's properties, rendered in the flow path syntax (`headers.accept`,
//! `values[2]`, `labels["a.b"]`).

use std::fmt;

use serde_json::Value;

/// One step of a [`ParamPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A property or map key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A path relative to a plugin object; empty for the object itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamPath(pub Vec<Segment>);

impl ParamPath {
    /// Converts the path reported by `serde_path_to_error`.
    pub fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment as S;
        let segments = path
            .iter()
            .filter_map(|segment| match segment {
                S::Seq { index } => Some(Segment::Index(*index)),
                S::Map { key } => Some(Segment::Key(key.clone())),
                S::Enum { variant } => Some(Segment::Key(variant.clone())),
                // Untracked positions (e.g. inside a custom deserializer) carry no name.
                S::Unknown => None,
            })
            .collect();
        ParamPath(segments)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// This path followed by `other`.
    pub fn join(&self, other: &ParamPath) -> ParamPath {
        ParamPath(self.0.iter().chain(&other.0).cloned().collect())
    }

    /// This path followed by the key `key`.
    pub fn child(&self, key: &str) -> ParamPath {
        let mut segments = self.0.clone();
        segments.push(Segment::Key(key.to_owned()));
        ParamPath(segments)
    }

    /// The value this path designates inside `root`, if it exists.
    pub fn lookup_mut<'a>(&self, root: &'a mut Value) -> Option<&'a mut Value> {
        self.0
            .iter()
            .try_fold(root, |value, segment| match segment {
                Segment::Key(key) => value.as_object_mut()?.get_mut(key),
                Segment::Index(index) => value.as_array_mut()?.get_mut(*index),
            })
    }

    /// Encodes the path as a JSON array (keys as strings, indices as numbers).
    pub(crate) fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|segment| match segment {
                    Segment::Key(key) => Value::String(key.clone()),
                    Segment::Index(index) => Value::from(*index),
                })
                .collect(),
        )
    }

    /// Inverse of [`ParamPath::to_json`].
    pub(crate) fn from_json(value: &Value) -> Option<ParamPath> {
        let segments = value
            .as_array()?
            .iter()
            .map(|item| match item {
                Value::String(key) => Some(Segment::Key(key.clone())),
                Value::Number(n) => n.as_u64().map(|i| Segment::Index(i as usize)),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        Some(ParamPath(segments))
    }
}

fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Display for ParamPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if is_plain_key(key) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(key)?;
                }
                Segment::Key(key) => write!(f, "[{}]", Value::String(key.clone()))?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_flow_path_syntax() {
        let path = ParamPath(vec![
            Segment::Key("headers".into()),
            Segment::Key("accept".into()),
            Segment::Key("values".into()),
            Segment::Index(2),
            Segment::Key("a.b".into()),
        ]);
        assert_eq!(path.to_string(), r#"headers.accept.values[2]["a.b"]"#);
        assert_eq!(ParamPath::from_json(&path.to_json()), Some(path));
    }

    #[test]
    fn looks_up_nested_values() {
        let mut root = serde_json::json!({"a": [{"b": 1}]});
        let path = ParamPath(vec![
            Segment::Key("a".into()),
            Segment::Index(0),
            Segment::Key("b".into()),
        ]);
        assert_eq!(path.lookup_mut(&mut root), Some(&mut Value::from(1)));
        assert_eq!(ParamPath::default().child("zz").lookup_mut(&mut root), None);
    }
}
