//! The root README's table of options is core's `OPTIONS`, rendered: it
//! cannot drift from the code. `ELECTOR_UPDATE_README=1` rewrites it.

use elector_core::options::OPTIONS;

const BEGIN: &str = "<!-- options:begin -->\n";
const END: &str = "<!-- options:end -->";

fn table() -> String {
    let mut table =
        String::from("| option | kind | default | rule | what it sets |\n|---|---|---|---|---|\n");
    for spec in &OPTIONS {
        let rule = if spec.rule.is_empty() {
            "—"
        } else {
            spec.rule
        };
        table += &format!(
            "| `{}` | {} | {} | {} | {} |\n",
            spec.field, spec.kind, spec.default, rule, spec.doc
        );
    }
    table
}

#[test]
fn the_readme_lists_core_s_options() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).unwrap();
    let start = readme
        .find(BEGIN)
        .expect("README.md has the options:begin marker")
        + BEGIN.len();
    let end = readme
        .find(END)
        .expect("README.md has the options:end marker");
    let expected = table();
    if std::env::var_os("ELECTOR_UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).unwrap();
        return;
    }
    assert_eq!(
        readme[start..end],
        expected,
        "README.md's options table is stale: run ELECTOR_UPDATE_README=1 cargo test -p elector-core --test options_table"
    );
}
