//! `saker flow validate` / `saker flow schema` as a user runs them.

use std::process::Command;

fn saker(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_saker"))
        .args(args)
        .output()
        .expect("saker runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const GOOD: &str = "id: good\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n";
const BAD: &str = "id: bad\nnamespace: company.team\ntasks:\n  - id: hi\n    type: io.kestra.plugin.core.log.Logg\n    message: hi\n";

#[test]
fn valid_invalid_and_folders() {
    let dir = std::env::temp_dir().join(format!("saker-cli-test-{}", std::process::id()));
    let good = write(&dir, "a/good.yaml", GOOD);
    let (code, text) = saker(&["flow", "validate", &good]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("✓ company.team.good"), "{text}");

    write(&dir, "a/b/bad.yml", BAD);
    write(&dir, "a/ignored.txt", "not yaml");
    let folder = dir.join("a").display().to_string();
    let (code, text) = saker(&["flow", "validate", &folder]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("✘") && text.contains("Invalid type: io.kestra.plugin.core.log.Logg"),
        "{text}"
    );
    assert!(text.contains("bad.yml:5:11"), "{text}");

    let (code, text) = saker(&["flow", "validate", "--json", &folder]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON output");
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["valid"], false);
    assert_eq!(arr[0]["diagnostics"][0]["code"], "FLOW0030");
    assert_eq!(arr[1]["flow"]["id"], "good");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(saker(&["flow", "validate"]).0, 2);
    assert_eq!(saker(&["flow", "validate", "/nonexistent/flow.yaml"]).0, 2);
    assert_eq!(saker(&["flow", "nope"]).0, 2);
}

#[test]
fn schema_is_draft07_json() {
    let (code, text) = saker(&["flow", "schema"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    assert_eq!(v["$schema"], "http://json-schema.org/draft-07/schema#");
    assert!(
        v["definitions"]["Task"]["oneOf"]
            .as_array()
            .is_some_and(|a| a.len() > 20)
    );
}
