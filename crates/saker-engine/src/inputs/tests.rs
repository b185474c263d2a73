//! Input typing: every type, defaults, dependsOn, the corpus' `InputsTest` expectations (flow
//! definitions copied inline) and flow outputs.

use serde_json::{Map, json};

use super::*;

/// Encrypts visibly and stores local files under a fake execution.
struct TestHost;

impl InputHost for TestHost {
    fn encrypt(&self, plain: &str) -> Result<String, String> {
        Ok(format!("encrypted:{}", plain.len()))
    }
    fn store_local_file(&self, input_id: &str, path: &str) -> Result<String, String> {
        let name = path.rsplit('/').next().unwrap_or(path);
        Ok(format!(
            "kestra:///ns/flow/executions/e1/inputs/{input_id}/{name}"
        ))
    }
}

fn inputs(yaml: &str) -> Vec<Input> {
    // Like Kestra's YAML reader: `n`/`y` are strings, not booleans.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    let list: Value = serde_saphyr::from_str_with_options(yaml, options).expect("test YAML");
    inputs_from_json(&list).unwrap_or_else(|e| panic!("test inputs: {e} in {list}"))
}

fn text(pairs: &[(&str, &str)]) -> Vec<(String, RawInput)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), RawInput::Text(v.to_string())))
        .collect()
}

fn resolve_with(
    defs: &[Input],
    raw: &[(String, RawInput)],
    vars: &Value,
) -> Result<Map<String, Value>, InputError> {
    let engine = Engine::new();
    let ctx = InputContext::new(&engine, vars, &saker_expr::NoServices).with_host(&TestHost);
    resolve_input_list(defs, raw, &ctx)
}

fn resolve(defs: &[Input], raw: &[(String, RawInput)]) -> Result<Map<String, Value>, InputError> {
    resolve_with(defs, raw, &json!({"flow": {"id": "f", "namespace": "ns"}}))
}

/// One input `x` of the given definition, typed from one text value.
fn one(def: &str, value: Option<&str>) -> Result<Value, String> {
    let defs = inputs(&format!("- id: x\n{def}"));
    let raw = value.map(|v| text(&[("x", v)])).unwrap_or_default();
    resolve(&defs, &raw)
        .map(|map| map.get("x").cloned().unwrap_or(Value::Null))
        .map_err(|e| e.message)
}

#[test]
fn every_type_coerces_and_validates() {
    let ok = |v: Value| Ok::<Value, String>(v);
    let err = |m: &str| Err::<Value, String>(m.to_string());
    #[rustfmt::skip]
    let cases: Vec<(&str, Option<&str>, Result<Value, String>)> = vec![
        ("  type: STRING", Some("hello"), ok(json!("hello"))),
        ("  type: STRING\n  validator: 'A\\d+'", Some("A12"), ok(json!("A12"))),
        ("  type: STRING\n  validator: 'A\\d+'", Some("xA12"), err("Invalid input for `x`, it must match the pattern `A\\d+`, but received `xA12`")),
        ("  type: STRING", None, err("Invalid input for `x`, missing required input, but received `null`")),
        ("  type: STRING\n  required: false", None, ok(Value::Null)),
        ("  type: STRING\n  defaults: ''", None, ok(json!(""))),
        ("  type: ENUM\n  values: [A, B]", Some("B"), ok(json!("B"))),
        ("  type: ENUM\n  values: [A, B]", Some("C"), err("Invalid input for `x`, it must match the values `[A, B]`, but received `C`")),
        ("  type: ENUM\n  values: [A, B]\n  required: false", Some("C"), ok(json!("C"))),
        ("  type: SELECT\n  values: [A, B]", Some("C"), err("Invalid input for `x`, it must match the values `[A, B]`, but received `C`")),
        ("  type: SELECT\n  values: [A, B]\n  allowCustomValue: true", Some("C"), ok(json!("C"))),
        ("  type: SELECT\n  values: [A, B]\n  autoSelectFirst: true", None, ok(json!("A"))),
        ("  type: MULTISELECT\n  values: [A, B]", Some("[\"A\", \"B\"]"), ok(json!(["A", "B"]))),
        ("  type: MULTISELECT\n  values: [A, B]", Some("[\"A\", \"Z\"]"), err("Invalid input for `x`, it must match the values `[A, B]`, but received `[\"A\", \"Z\"]`")),
        ("  type: MULTISELECT\n  values: [A]\n  allowCustomValue: true", Some("[\"Z\"]"), ok(json!(["Z"]))),
        ("  type: MULTISELECT\n  options: [A, B]", Some("[\"B\"]"), ok(json!(["B"]))),
        ("  type: INT", Some("42"), ok(json!(42))),
        ("  type: INT", Some("-7"), ok(json!(-7))),
        ("  type: INT", Some("abc"), err("Invalid input for `x`, Expected `INT` but received `abc` with errors:\n```\nFor input string: \"abc\"\n```, but received `abc`")),
        ("  type: INT", Some("4.2"), err("Invalid input for `x`, Expected `INT` but received `4.2` with errors:\n```\nFor input string: \"4.2\"\n```, but received `4.2`")),
        ("  type: INT", Some("3000000000"), err("Invalid input for `x`, Expected `INT` but received `3000000000` with errors:\n```\nFor input string: \"3000000000\"\n```, but received `3000000000`")),
        ("  type: INT\n  min: 10\n  max: 20", Some("10"), ok(json!(10))),
        ("  type: INT\n  min: 10\n  max: 20", Some("20"), ok(json!(20))),
        ("  type: INT\n  defaults: 5", None, ok(json!(5))),
        ("  type: FLOAT", Some("42.42"), ok(json!(42.42))),
        ("  type: FLOAT", Some("1"), ok(json!(1.0))),
        ("  type: FLOAT", Some("x"), err("Invalid input for `x`, Expected `FLOAT` but received `x` with errors:\n```\nFor input string: \"x\"\n```, but received `x`")),
        ("  type: FLOAT", Some("inf"), err("Invalid input for `x`, Expected `FLOAT` but received `inf` with errors:\n```\nFor input string: \"inf\"\n```, but received `inf`")),
        ("  type: FLOAT\n  min: 1\n  max: 2", Some("0.5"), err("Invalid input for `x`, it must be more than `1.0`, but received `0.5`")),
        ("  type: BOOLEAN", Some("TRUE"), ok(json!(true))),
        ("  type: BOOLEAN", Some("yes"), ok(json!(false))),
        ("  type: BOOL", Some("true"), ok(json!(true))),
        ("  type: BOOL\n  defaults: true", None, ok(json!(true))),
        ("  type: DATETIME", Some("2024-01-01T10:00:00Z"), ok(json!("2024-01-01T10:00:00Z"))),
        ("  type: DATETIME", Some("2024-01-01T12:00:00.250+02:00"), ok(json!("2024-01-01T10:00:00.250Z"))),
        ("  type: DATETIME", Some("2024-01-01T10:00Z"), ok(json!("2024-01-01T10:00:00Z"))),
        ("  type: DATETIME", Some("2024-01-01"), err("Invalid input for `x`, Expected `DATETIME` but received `2024-01-01` with errors:\n```\nText '2024-01-01' could not be parsed\n```, but received `2024-01-01`")),
        ("  type: DATE", Some("2024-02-29"), ok(json!("2024-02-29"))),
        ("  type: DATE", Some("2024-2-29"), err("Invalid input for `x`, Expected `DATE` but received `2024-2-29` with errors:\n```\nText '2024-2-29' could not be parsed\n```, but received `2024-2-29`")),
        ("  type: TIME", Some("10:00"), ok(json!("10:00:00"))),
        ("  type: TIME", Some("10:00:01.500"), ok(json!("10:00:01.5"))),
        ("  type: TIME", Some("25:00"), err("Invalid input for `x`, Expected `TIME` but received `25:00` with errors:\n```\nText '25:00' could not be parsed\n```, but received `25:00`")),
        ("  type: DURATION", Some("P1D"), ok(json!("PT24H"))),
        ("  type: DURATION", Some("PT90S"), ok(json!("PT1M30S"))),
        ("  type: DURATION", Some("5m"), err("Invalid input for `x`, Expected `DURATION` but received `5m` with errors:\n```\nText cannot be parsed to a Duration\n```, but received `5m`")),
        ("  type: FILE", Some("kestra:///ns/flow/executions/e1/inputs/x/a.txt"), ok(json!("kestra:///ns/flow/executions/e1/inputs/x/a.txt"))),
        ("  type: FILE", Some("nsfile:///data/a.csv"), ok(json!("nsfile:///data/a.csv"))),
        ("  type: FILE", Some("/tmp/local.txt"), ok(json!("kestra:///ns/flow/executions/e1/inputs/x/local.txt"))),
        ("  type: JSON", Some("{\"a\": [1, true]}"), ok(json!({"a": [1, true]}))),
        ("  type: JSON", Some("3"), ok(json!(3))),
        ("  type: JSON\n  defaults: '{\"a\": 1}'", None, ok(json!({"a": 1}))),
        ("  type: YAML", Some("a: 1\nb: [x, y]\nc: yes"), ok(json!({"a": 1, "b": ["x", "y"], "c": "yes"}))),
        ("  type: URI", Some("https://kestra.io/docs?a=1"), ok(json!("https://kestra.io/docs?a=1"))),
        ("  type: URI", Some("kestra.io"), err("Invalid input for `x`, Expected `URI` but received `kestra.io`, but received `kestra.io`")),
        ("  type: SECRET", Some("s3cr3t"), ok(json!("encrypted:6"))),
        ("  type: SECRET\n  validator: '[a-z]+'", Some("s3cr3t"), err("Invalid input for `x`, it must match the pattern `[a-z]+`, but received `s3cr3t`")),
        ("  type: ARRAY\n  itemType: INT", Some("[1, \"2\"]"), ok(json!([1, 2]))),
        ("  type: ARRAY\n  itemType: DATE", Some("[\"2024-01-01\"]"), ok(json!(["2024-01-01"]))),
        ("  type: ARRAY\n  itemType: INT\n  defaults: [1, 2]", None, ok(json!([1, 2]))),
        ("  type: ARRAY\n  itemType: STRING", Some("[1, \"a\"]"), ok(json!([1, "a"]))),
        ("  type: ARRAY\n  itemType: INT", Some("{\"a\": 1}"), err("Invalid input for `x`, Expected `ARRAY` but received `{\"a\": 1}` with errors:\n```\nCannot deserialize a list from LinkedHashMap\n```, but received `{\"a\": 1}`")),
        ("  type: ARRAY\n  itemType: FLOAT", Some("[1.5, \"x\"]"), err("Invalid input for `x`, Unable to parse array element as `FLOAT` on `x`, but received `[1.5, \"x\"]`")),
        ("  type: EMAIL", Some("me@kestra.io"), ok(json!("me@kestra.io"))),
        ("  type: EMAIL", Some(""), ok(json!(""))),
        ("  type: EMAIL", Some("not an email"), err("Invalid input for `x`, The input must be a valid email, but received `not an email`")),
    ];
    for (def, value, expected) in cases {
        assert_eq!(one(def, value), expected, "{def} <- {value:?}");
    }
}

#[test]
fn every_declared_type_is_covered() {
    // Each type resolves a plausible value without panicking (guards new InputType variants).
    for type_ in InputType::ALL {
        let def = match type_ {
            InputType::Array => "  type: ARRAY\n  itemType: STRING".to_owned(),
            other => format!("  type: {}\n  required: false", other.as_str()),
        };
        let value = match type_ {
            InputType::Int => "1",
            InputType::Float => "1.5",
            InputType::Boolean | InputType::Bool => "true",
            InputType::Datetime => "2024-01-01T00:00:00Z",
            InputType::Date => "2024-01-01",
            InputType::Time => "12:00",
            InputType::Duration => "PT1S",
            InputType::File => "kestra:///a/b",
            InputType::Json | InputType::Array | InputType::Multiselect => "[]",
            InputType::Uri => "https://kestra.io",
            InputType::Email => "a@b.c",
            _ => "text",
        };
        let result = one(&def, Some(value));
        assert!(result.is_ok(), "{}: {result:?}", type_.as_str());
    }
}

#[test]
fn json_values_from_subflows_and_api_bodies() {
    let defs = inputs(
        "- {id: n, type: INT}\n- {id: f, type: FLOAT}\n- {id: b, type: BOOLEAN}\n\
         - {id: j, type: JSON}\n- {id: a, type: ARRAY, itemType: INT}\n- {id: s, type: STRING}\n\
         - {id: big, type: INT, required: false}",
    );
    let body =
        json!({"n": 3, "f": 2.5, "b": true, "j": {"k": [1]}, "a": ["4", 5], "s": 7, "big": null});
    let resolved = resolve(&defs, &raw_from_json(body.as_object().unwrap())).unwrap();
    assert_eq!(
        Value::Object(resolved),
        json!({"n": 3, "f": 2.5, "b": true, "j": {"k": [1]}, "a": [4, 5], "s": 7, "big": null})
    );
    let err = resolve(
        &defs[..1],
        &raw_from_json(json!({"n": 2.5}).as_object().unwrap()),
    );
    assert_eq!(
        err.unwrap_err().message,
        "Invalid input for `n`, Expected `INT` but received `2.5` with errors:\n```\nFor input string: \"2.5\"\n```, but received `2.5`"
    );
}

#[test]
fn uploaded_files_keep_their_uri() {
    let defs = inputs("- {id: f, type: FILE}");
    let uri = "kestra:///io/kestra/tests/inputs/executions/e1/inputs/f/a.yml";
    let raw = vec![(
        "f".to_string(),
        RawInput::File {
            filename: "a.yml".into(),
            uri: uri.into(),
        },
    )];
    assert_eq!(resolve(&defs, &raw).unwrap()["f"], json!(uri));
}

#[test]
fn unknown_inputs_are_ignored_and_the_last_value_wins() {
    let defs = inputs("- {id: a, type: INT}");
    let raw = text(&[("zzz", "1"), ("a", "1"), ("a", "2")]);
    assert_eq!(
        Value::Object(resolve(&defs, &raw).unwrap()),
        json!({"a": 2})
    );
}

#[test]
fn dotted_ids_nest() {
    let defs = inputs(
        "- {id: nested.string, type: STRING}\n- {id: nested.more.int, type: INT}\n\
         - {id: nested.bool, type: BOOLEAN}",
    );
    let raw = text(&[
        ("nested.string", "s"),
        ("nested.more.int", "123"),
        ("nested.bool", "true"),
    ]);
    assert_eq!(
        Value::Object(resolve(&defs, &raw).unwrap()),
        json!({"nested": {"string": "s", "more": {"int": 123}, "bool": true}})
    );
}

#[test]
fn defaults_render_with_resolved_inputs_and_context() {
    let defs = inputs(
        "- {id: n, type: INT}\n\
         - {id: next, type: INT, defaults: '{{ inputs.n + 1 }}'}\n\
         - {id: label, type: STRING, defaults: '{{ flow.namespace }}-{{ inputs.n }}'}\n\
         - {id: list, type: ARRAY, itemType: STRING, defaults: ['{{ inputs.n }}', b]}",
    );
    let resolved = resolve(&defs, &text(&[("n", "4")])).unwrap();
    assert_eq!(
        Value::Object(resolved),
        json!({"n": 4, "next": 5, "label": "ns-4", "list": ["4", "b"]})
    );
    // A submitted value wins over defaults.
    let resolved = resolve(&defs, &text(&[("n", "4"), ("next", "9")])).unwrap();
    assert_eq!(resolved["next"], json!(9));
    // A default that fails to render is an error of that input.
    let defs = inputs("- {id: d, type: STRING, defaults: '{{ undefinedVar.x }}'}");
    let error = resolve(&defs, &[]).unwrap_err();
    assert!(
        error
            .message
            .starts_with("Invalid input for `d`, Invalid defaults: "),
        "{error}"
    );
}

#[test]
fn depends_on_enables_or_drops_inputs() {
    let defs = inputs(
        "- {id: env, type: SELECT, values: [dev, prod], defaults: dev}\n\
         - id: approver\n  type: EMAIL\n  dependsOn:\n    inputs: [env]\n    condition: \"{{ inputs.env == 'prod' }}\"\n\
         - id: chained\n  type: STRING\n  defaults: x\n  dependsOn:\n    inputs: [approver]\n\
         - id: broken\n  type: STRING\n  dependsOn:\n    inputs: [env]\n    condition: '{{ nope.x }}'",
    );
    // dev: approver disabled (so chained too, even required); a failing condition disables.
    let dev = resolve(&defs, &[]).unwrap();
    assert_eq!(Value::Object(dev), json!({"env": "dev"}));
    let prod = resolve(&defs, &text(&[("env", "prod"), ("approver", "a@b.c")])).unwrap();
    assert_eq!(
        Value::Object(prod),
        json!({"env": "prod", "approver": "a@b.c", "chained": "x"})
    );
    // Enabled and required but missing.
    let error = resolve(&defs, &text(&[("env", "prod")])).unwrap_err();
    assert_eq!(error.id, "approver");
    // Inputs declared before their dependency still see it.
    let defs = inputs(
        "- id: b\n  type: INT\n  defaults: '{{ inputs.a * 2 }}'\n  dependsOn:\n    inputs: [a]\n\
         - {id: a, type: INT}",
    );
    let resolved = resolve(&defs, &text(&[("a", "3")])).unwrap();
    assert_eq!(Value::Object(resolved), json!({"b": 6, "a": 3}));
}

#[test]
fn depends_on_cycles_are_errors() {
    let defs = inputs(
        "- {id: a, type: STRING, required: false, dependsOn: {inputs: [b]}}\n\
         - {id: b, type: STRING, required: false, dependsOn: {inputs: [a]}}",
    );
    let error = resolve(&defs, &[]).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid input for `b`, `dependsOn` has a cycle through `a`, but received `null`"
    );
}

#[test]
fn select_expression_renders_the_allowed_values() {
    let defs = inputs("- {id: s, type: SELECT, expression: '{{ vars.choices }}'}");
    let vars = json!({"vars": {"choices": ["a", null, 2]}});
    assert_eq!(
        resolve_with(&defs, &text(&[("s", "2")]), &vars).unwrap()["s"],
        json!("2")
    );
    let error = resolve_with(&defs, &text(&[("s", "z")]), &vars).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid input for `s`, it must match the values `[a, 2]`, but received `z`"
    );
    let vars = json!({"vars": {"choices": "a,b"}});
    let error = resolve_with(&defs, &text(&[("s", "a")]), &vars).unwrap_err();
    assert_eq!(
        error.to_string(),
        "s: Invalid expression result. Expected a list of strings, but received String"
    );
}

#[test]
fn secrets_need_encryption() {
    let defs = inputs("- {id: s, type: SECRET}");
    let engine = Engine::new();
    let vars = json!({});
    let ctx = InputContext::new(&engine, &vars, &saker_expr::NoServices);
    let error = resolve_input_list(&defs, &text(&[("s", "pw")]), &ctx).unwrap_err();
    assert_eq!(
        error.message,
        "Invalid input for `s`, Expected `SECRET` but received `pw` with errors:\n```\nUnable to use a `SECRET` input/output as encryption is not configured\n```, but received `pw`"
    );
}

#[test]
fn validate_inputs_reports_every_input() {
    let defs = inputs(
        "- {id: a, type: INT}\n- {id: b, type: INT}\n\
         - {id: c, type: STRING, dependsOn: {inputs: [a], condition: 'false'}}",
    );
    let engine = Engine::new();
    let vars = json!({});
    let ctx = InputContext::new(&engine, &vars, &saker_expr::NoServices);
    let report = validate_inputs(&defs, &text(&[("a", "x")]), &ctx);
    let summary: Vec<_> = report
        .iter()
        .map(|r| (r.id.as_str(), r.enabled, r.error.is_some()))
        .collect();
    assert_eq!(
        summary,
        vec![("a", true, true), ("b", true, true), ("c", false, false)]
    );
    // The first error in declaration order is the one returned.
    assert_eq!(
        resolve_input_list(&defs, &text(&[("a", "x")]), &ctx)
            .unwrap_err()
            .id,
        "a"
    );
}

/// The input definitions of corpus `flows/valids/inputs.yaml` (Kestra's InputsTest).
const CORPUS_INPUTS: &str = r#"
- id: string
  type: STRING
- id: enum
  type: ENUM
  values: [ENUM_VALUE, OTHER_ONE]
- {id: optional, type: STRING, required: false}
- {id: int, type: INT}
- {id: bool, type: BOOLEAN, required: false}
- {id: float, type: FLOAT}
- {id: instant, type: DATETIME}
- {id: date, type: DATE, required: false}
- {id: time, type: TIME, required: false}
- {id: duration, type: DURATION, required: false}
- {id: file, type: FILE}
- {id: optionalFile, type: FILE, required: false}
- {id: instantDefaults, type: DATETIME, defaults: "2013-08-09T14:19:00Z"}
- {id: json, type: JSON, required: false}
- {id: uri, type: URI, required: false}
- {id: nested.string, type: STRING, required: false}
- {id: nested.more.int, type: INT, required: false}
- {id: nested.bool, type: BOOLEAN, required: false}
- id: validatedString
  type: STRING
  validator: A\d+
  required: false
- {id: validatedInt, type: INT, min: 10, max: 20, required: false}
- {id: validatedDate, type: DATE, after: 2023-01-01, before: 2023-12-31, required: false}
- id: validatedDateTime
  type: DATETIME
  after: "2023-01-01T00:00:00Z"
  before: "2023-12-31T23:59:59Z"
  required: false
- {id: validatedDuration, type: DURATION, min: PT10S, max: PT20S, required: false}
- {id: validatedFloat, type: FLOAT, min: 0.1, max: 0.5, required: false}
- {id: validatedTime, type: TIME, after: "01:00:00", before: "11:59:59", required: false}
- {name: secret, type: SECRET}
- {name: array, type: ARRAY, itemType: INT}
- name: yaml
  type: YAML
  defaults:
    property: something
    list:
    - key: key1
      value: value1
    - key: key2
      value: value2
- {name: empty, type: STRING, defaults: '', required: true}
"#;

const FILE_URI: &str =
    "kestra:///io/kestra/tests/inputs/executions/e1/inputs/file/application-test.yml";

/// The corpus' valid submission, with `overrides` replacing (or `None` removing) values.
fn corpus_raw(overrides: &[(&str, Option<&str>)]) -> Vec<(String, RawInput)> {
    let base = [
        ("string", "myString"),
        ("enum", "ENUM_VALUE"),
        ("int", "42"),
        ("float", "42.42"),
        ("bool", "false"),
        ("instant", "2019-10-06T18:27:49Z"),
        ("date", "2019-10-06"),
        ("time", "18:27:49"),
        ("duration", "PT5M6S"),
        ("json", "{\"a\": \"b\"}"),
        ("uri", "https://www.google.com"),
        ("nested.string", "a string"),
        ("nested.more.int", "123"),
        ("nested.bool", "true"),
        ("validatedString", "A123"),
        ("validatedInt", "12"),
        ("validatedDate", "2023-01-02"),
        ("validatedDateTime", "2023-01-01T00:00:10Z"),
        ("validatedDuration", "PT15S"),
        ("validatedFloat", "0.42"),
        ("validatedTime", "11:27:49"),
        ("secret", "secret"),
        ("array", "[1, 2, 3]"),
        ("yaml", "some: property\nalist:\n- of\n- values"),
    ];
    let mut raw: Vec<(String, RawInput)> = Vec::new();
    for (key, value) in base {
        let value = match overrides.iter().find(|(k, _)| *k == key) {
            Some((_, replaced)) => *replaced,
            None => Some(value),
        };
        if let Some(value) = value {
            raw.push((key.into(), RawInput::Text(value.into())));
        }
    }
    raw.push((
        "file".into(),
        RawInput::File {
            filename: "application-test.yml".into(),
            uri: FILE_URI.into(),
        },
    ));
    raw
}

#[test]
fn corpus_all_valid_typed_inputs() {
    let typed = resolve(&inputs(CORPUS_INPUTS), &corpus_raw(&[])).unwrap();
    let expected = json!({
        "string": "myString", "enum": "ENUM_VALUE", "optional": null, "int": 42, "bool": false,
        "float": 42.42, "instant": "2019-10-06T18:27:49Z", "date": "2019-10-06",
        "time": "18:27:49", "duration": "PT5M6S", "file": FILE_URI, "optionalFile": null,
        "instantDefaults": "2013-08-09T14:19:00Z", "json": {"a": "b"},
        "uri": "https://www.google.com",
        "nested": {"string": "a string", "more": {"int": 123}, "bool": true},
        "validatedString": "A123", "validatedInt": 12, "validatedDate": "2023-01-02",
        "validatedDateTime": "2023-01-01T00:00:10Z", "validatedDuration": "PT15S",
        "validatedFloat": 0.42, "validatedTime": "11:27:49", "secret": "encrypted:6",
        "array": [1, 2, 3], "yaml": {"some": "property", "alist": ["of", "values"]}, "empty": ""
    });
    assert_eq!(Value::Object(typed), expected);
}

#[test]
fn corpus_missing_optional_bool_is_null_and_empty_json_is_a_map() {
    let typed = resolve(&inputs(CORPUS_INPUTS), &corpus_raw(&[("bool", None)])).unwrap();
    assert_eq!(typed["bool"], Value::Null);
    let typed = resolve(&inputs(CORPUS_INPUTS), &corpus_raw(&[("json", Some("{}"))])).unwrap();
    assert_eq!(typed["json"], json!({}));
}

#[test]
fn corpus_input_validation_errors() {
    #[rustfmt::skip]
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("string", None, "Invalid input for `string`, missing required input, but received `null`"),
        ("validatedString", Some("foo"), "Invalid input for `validatedString`, it must match the pattern"),
        ("validatedInt", Some("9"), "Invalid input for `validatedInt`, it must be more than `10`, but received `9`"),
        ("validatedInt", Some("21"), "Invalid input for `validatedInt`, it must be less than `20`, but received `21`"),
        ("validatedDate", Some("2022-01-01"), "Invalid input for `validatedDate`, it must be after `2023-01-01`, but received `2022-01-01`"),
        ("validatedDate", Some("2024-01-01"), "Invalid input for `validatedDate`, it must be before `2023-12-31`, but received `2024-01-01`"),
        ("validatedDateTime", Some("2022-01-01T00:00:00Z"), "Invalid input for `validatedDateTime`, it must be after `2023-01-01T00:00:00Z`, but received `2022-01-01T00:00:00Z`"),
        ("validatedDateTime", Some("2024-01-01T00:00:00Z"), "Invalid input for `validatedDateTime`, it must be before `2023-12-31T23:59:59Z`"),
        ("validatedDuration", Some("PT1S"), "Invalid input for `validatedDuration`, It must be more than `PT10S`, but received `PT1S`"),
        ("validatedDuration", Some("PT30S"), "Invalid input for `validatedDuration`, It must be less than `PT20S`, but received `PT30S`"),
        ("validatedFloat", Some("0.01"), "Invalid input for `validatedFloat`, it must be more than `0.1`, but received `0.01`"),
        ("validatedFloat", Some("1.01"), "Invalid input for `validatedFloat`, it must be less than `0.5`, but received `1.01`"),
        ("validatedTime", Some("00:00:01"), "Invalid input for `validatedTime`, it must be after `01:00`, but received `00:00:01`"),
        ("validatedTime", Some("14:00:00"), "Invalid input for `validatedTime`, it must be before `11:59:59`, but received `14:00:00`"),
        ("uri", Some("http:/bla"), "Invalid input for `uri`, Expected `URI` but received `http:/bla`, but received `http:/bla`"),
        ("array", Some("[\"s1\", \"s2\"]"), "Invalid input for `array`, Unable to parse array element as `INT` on `s1`, but received `[\"s1\", \"s2\"]`"),
    ];
    let defs = inputs(CORPUS_INPUTS);
    for (key, value, expected) in cases {
        let error = resolve(&defs, &corpus_raw(&[(key, *value)])).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{key}: {error} does not contain {expected}"
        );
        assert_eq!(error.id, *key);
    }
    // Asserted with `is` in Kestra: the whole exception message.
    let error = resolve(&defs, &corpus_raw(&[("enum", Some("INVALID"))])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "enum: Invalid input for `enum`, it must match the values `[ENUM_VALUE, OTHER_ONE]`, but received `INVALID`"
    );
}

#[test]
fn corpus_pause_on_resume_missing_required_input() {
    // `flows/valids/pause_on_resume.yaml`, the Pause task's `onResume`.
    let on_resume = json!([
        {"id": "asked", "type": "STRING"},
        {"id": "data", "type": "FILE", "required": false}
    ]);
    let defs = inputs_from_json(&on_resume).unwrap();
    let error = resolve(&defs, &[]).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("Invalid input for `asked`, missing required input, but received `null`")
    );
    let ok = resolve(&defs, &text(&[("asked", "why")])).unwrap();
    assert_eq!(Value::Object(ok), json!({"asked": "why", "data": null}));
}

#[test]
fn inputs_from_json_rejects_malformed_definitions() {
    assert!(inputs_from_json(&json!({"id": "a"})).is_err());
    assert!(inputs_from_json(&json!([{"type": "STRING"}])).is_err());
    assert!(inputs_from_json(&json!([{"id": "a", "type": "NOPE"}])).is_err());
    let defs = inputs_from_json(&json!([{"name": "legacy", "type": "INT"}])).unwrap();
    assert_eq!((defs[0].id.as_str(), defs[0].required), ("legacy", true));
}

fn output(id: &str, type_: InputType, required: bool) -> FlowOutput {
    FlowOutput {
        id: id.into(),
        type_,
        value: Value::Null,
        description: None,
        display_name: None,
        required,
    }
}

#[test]
fn outputs_are_typed_like_inputs() {
    use InputType::*;
    let ok = |v: Value| Ok::<Value, std::string::String>(v);
    #[rustfmt::skip]
    let cases: Vec<(InputType, bool, Value, Result<Value, std::string::String>)> = vec![
        // corpus flow-with-outputs: a STRING keeps the rendered JSON text.
        (String, true, json!("{\"value\":\"flow-with-outputs\"}"), ok(json!("{\"value\":\"flow-with-outputs\"}"))),
        // corpus flow-with-array-outputs: a rendered list stays a list.
        (Array, true, json!(["1rstValue", "2ndValue"]), ok(json!(["1rstValue", "2ndValue"]))),
        (Array, true, json!("[1, 2]"), ok(json!([1, 2]))),
        (Int, true, json!("42"), ok(json!(42))),
        (Int, true, json!("4x"), Err("Invalid output for `o`, Expected `INT` but received `4x` with errors:\n```\nFor input string: \"4x\"\n```, but received `4x`".into())),
        (Float, true, json!("0.5"), ok(json!(0.5))),
        (Boolean, true, json!("True"), ok(json!(true))),
        (Bool, true, json!(false), ok(json!(false))),
        (Json, true, json!("{\"a\": 1}"), ok(json!({"a": 1}))),
        (Yaml, true, json!("a: 1"), ok(json!({"a": 1}))),
        (Datetime, true, json!("2024-01-01T01:00:00+01:00"), ok(json!("2024-01-01T00:00:00Z"))),
        (Date, true, json!("2024-01-01"), ok(json!("2024-01-01"))),
        (Time, true, json!("09:30"), ok(json!("09:30:00"))),
        (Duration, true, json!("PT60M"), ok(json!("PT1H"))),
        (File, true, json!("kestra:///a/b.txt"), ok(json!("kestra:///a/b.txt"))),
        (Uri, true, json!("nope"), Err("Invalid output for `o`, Expected `URI` but received `nope`, but received `nope`".into())),
        (Secret, true, json!("pw"), ok(json!({"type": "io.kestra.datatype:aes_encrypted", "value": "encrypted:2"}))),
        (String, true, Value::Null, Err("Invalid output for `o`, missing required output, but received `null`".into())),
        (Int, false, Value::Null, ok(Value::Null)),
    ];
    for (type_, required, value, expected) in cases {
        let out = output("o", type_, required);
        let got = type_output(&out, value.clone(), &TestHost).map_err(|e| e.message);
        assert_eq!(got, expected, "{} {value}", type_.as_str());
    }
    // Without an encryption key, SECRET outputs fail (Kestra's message inside).
    let error = type_output(&output("o", Secret, true), json!("pw"), &NoInputHost).unwrap_err();
    assert!(error.message.contains(ENCRYPTION_NOT_CONFIGURED), "{error}");
}

#[test]
fn java_forms_of_values_in_messages() {
    assert_eq!(coerce::java_float(1.0), "1.0");
    assert_eq!(coerce::java_float(0.1), "0.1");
    assert_eq!(coerce::java_float(1e10), "1.0E10");
    let t = |s: &str| coerce::java_local_time(&coerce::parse_java_time(s).unwrap());
    assert_eq!(t("01:00:00"), "01:00");
    assert_eq!(t("01:00:00.5"), "01:00:00.500");
    assert_eq!(t("11:59:59"), "11:59:59");
    assert_eq!(
        coerce::java_string(&json!({"a": [1, "b"], "c": null})),
        "{a=[1, b], c=null}"
    );
}

#[test]
fn error_messages_snapshot() {
    let defs = inputs(
        "- {id: int, type: INT, min: 1}\n- {id: float, type: FLOAT, max: 2.5}\n\
         - {id: date, type: DATE}\n- {id: dt, type: DATETIME, before: '2020-01-01T00:00:00Z'}\n\
         - {id: dur, type: DURATION, min: PT1M}\n- {id: json, type: JSON}\n\
         - {id: multi, type: MULTISELECT, values: [a, b]}\n- {id: arr, type: ARRAY, itemType: BOOL}\n\
         - {id: email, type: EMAIL}\n- {id: req, type: STRING}\n- {id: uri, type: URI}",
    );
    let cases = [
        ("int", "0"),
        ("int", "1.0"),
        ("float", "3"),
        ("date", "01/02/2024"),
        ("dt", "2021-01-01T00:00:00Z"),
        ("dur", "PT30S"),
        ("json", "{oops"),
        ("multi", "[\"c\"]"),
        ("multi", "c"),
        ("arr", "[true, 1]"),
        ("email", "@"),
        ("uri", "ftp:/x"),
    ];
    let mut lines = Vec::new();
    for (id, value) in cases {
        let def: Vec<Input> = defs.iter().filter(|d| d.id == id).cloned().collect();
        let error = resolve(&def, &text(&[(id, value)])).unwrap_err();
        lines.push(error.to_string());
    }
    let missing: Vec<Input> = defs.iter().filter(|d| d.id == "req").cloned().collect();
    lines.push(resolve(&missing, &[]).unwrap_err().to_string());
    insta::assert_snapshot!(lines.join("\n---\n"));
}

/// Engine services with a reversible fake cipher.
struct Rot;

impl saker_expr::Services for Rot {}

impl EngineServices for Rot {
    fn encrypt(&self, plain: &str) -> Result<String, String> {
        Ok(format!("enc:{plain}"))
    }
    fn decrypt(&self, encrypted: &str) -> Result<String, String> {
        encrypted
            .strip_prefix("enc:")
            .map(str::to_owned)
            .ok_or_else(|| "not encrypted".to_owned())
    }
}

#[test]
fn the_inputs_variable_decrypts_secrets_and_is_absent_when_empty() {
    let source = "id: f\nnamespace: ns\ninputs:\n  - id: pw\n    type: SECRET\n  - id: a.b\n    type: SECRET\n  - id: s\n    type: STRING\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
    let flow = saker_flow::parse_and_validate(source, None, &saker_flow::testing::TestCatalog)
        .expect("valid flow");
    let stored = json!({"pw": "enc:one", "a": {"b": "enc:two"}, "s": "enc:plain text"});
    let (variable, secrets) = inputs_variable(&flow, stored.as_object().unwrap(), &Rot);
    assert_eq!(
        Value::Object(variable.unwrap()),
        json!({"pw": "one", "a": {"b": "two"}, "s": "enc:plain text"})
    );
    assert_eq!(secrets, ["one", "two"]);
    let (variable, secrets) = inputs_variable(&flow, &Map::new(), &Rot);
    assert!(variable.is_none() && secrets.is_empty());
    // SECRET outputs go through the services' key.
    let out = output("o", InputType::Secret, true);
    let typed = type_output(&out, json!("pw"), &ServicesHost(&Rot)).unwrap();
    assert_eq!(typed["value"], json!("enc:pw"));
}
