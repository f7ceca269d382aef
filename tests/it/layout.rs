//! The test crate's own shape: every area is a module of `tests/it/main.rs`, and no test
//! file lies straight under `tests/`. Cargo builds neither a file `main.rs` does not declare
//! nor, with `autotests = false`, a file outside `tests/it/`: their tests would never run.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn every_test_file_is_a_module_of_the_one_test_crate() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let names = |dir: &Path| -> Vec<(String, bool)> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                let is_dir = e.file_type().unwrap().is_dir();
                (e.file_name().to_string_lossy().into_owned(), is_dir)
            })
            .collect()
    };
    let stray: Vec<String> = names(&tests)
        .into_iter()
        .filter(|(n, is_dir)| !is_dir && n.ends_with(".rs"))
        .map(|(n, _)| n)
        .collect();
    assert!(
        stray.is_empty(),
        "test files outside tests/it/ are never built: {stray:?} (make each a module of tests/it/main.rs)"
    );
    let it = tests.join("it");
    let main = std::fs::read_to_string(it.join("main.rs")).unwrap();
    let declared: BTreeSet<&str> = main
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let areas: BTreeSet<String> = names(&it)
        .into_iter()
        .filter_map(|(n, is_dir)| match n.strip_suffix(".rs") {
            Some("main") => None,
            Some(stem) if !is_dir => Some(stem.to_string()),
            _ => (is_dir && it.join(&n).join("mod.rs").is_file()).then_some(n),
        })
        .collect();
    let undeclared: Vec<&String> = areas
        .iter()
        .filter(|a| !declared.contains(a.as_str()))
        .collect();
    assert!(
        undeclared.is_empty(),
        "tests/it/ holds modules main.rs does not declare, never built: {undeclared:?}"
    );
}
