//! ION line files, as Kestra's `FileSerde` reads and writes `.ion` files: one value per line.
//! The Ion text itself is `saker_expr::ion` (shared with `toIon`/`fromIon`).

use serde_json::{Map, Value};

/// One JSON value as a line of Ion text (no trailing newline).
pub fn to_ion_line(value: &Value) -> String {
    saker_expr::ion::write(value)
}

/// One item of an ION line file (Kestra reads each line with `readLine` and maps it to a
/// `Map`): a line that holds anything but exactly one struct is an error naming its number.
pub fn ion_item(line: &str, number: u64) -> Result<Map<String, Value>, String> {
    let values = saker_expr::ion::read_all(line)
        .map_err(|error| format!("invalid ION item at line {number}: {}", error.message))?;
    match <[Value; 1]>::try_from(values) {
        Ok([Value::Object(item)]) => Ok(item),
        Ok(_) => Err(format!(
            "invalid ION item at line {number}: expected a struct, got `{line}`"
        )),
        Err(values) => Err(format!(
            "invalid ION item at line {number}: expected one value per line, got {}",
            values.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_structs_lists_and_scalars() {
        assert_eq!(
            to_ion_line(&json!({"level": "INFO", "n": 1, "x": 1.5, "my-key": [true, null]})),
            r#"{level:"INFO",n:1,x:1.5e0,'my-key':[true,null]}"#
        );
    }

    #[test]
    fn reads_one_struct_per_line() {
        assert_eq!(
            Value::Object(ion_item("{b:\"x\"}", 1).unwrap()),
            json!({"b": "x"})
        );
        let errors: Vec<String> = ["", "1", "{a:"]
            .iter()
            .zip(2..)
            .filter_map(|(line, number)| ion_item(line, number).err())
            .collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].contains("line 2: expected one value per line, got 0"));
        assert!(errors[1].contains("line 3: expected a struct"));
        assert!(errors[2].starts_with("invalid ION item at line 4"));
    }
}
