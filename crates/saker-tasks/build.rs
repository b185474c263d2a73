// automod lists the plugin directories at compile time; without this a new file is not picked up
// until something else changes (dtolnay/automod#22).
fn main() {
    for dir in ["src/tasks", "src/triggers", "src/conditions", "src/runners"] {
        println!("cargo:rerun-if-changed={dir}");
    }
}
