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

/// Every test docs/reliability.md names as its proof exists: a `module::function` of this
/// crate is one of the tests this binary lists, and a unit test named after a source file
/// (`src/PATH.rs` `name`) is a function of that file. A guarantee whose test was renamed
/// or removed would otherwise go on claiming a proof it no longer has. Only with every
/// feature: without `postgres` its tests are not compiled.
#[cfg(feature = "postgres")]
#[test]
fn every_test_reliability_md_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("docs/reliability.md")).unwrap();
    let listed = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--list", "--format", "terse"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let tests: BTreeSet<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect();
    let areas: BTreeSet<&str> = tests.iter().filter_map(|t| t.split("::").next()).collect();
    let mut missing = Vec::new();
    // The code spans of the document, at the odd places of `parts`, with the text between
    // them at the even ones. `a::b` names a test of an area of this crate, or a module of
    // the library (`store::postgres::reconnect::tests`: its unit tests).
    let parts: Vec<&str> = doc.split('`').collect();
    let name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    for j in (1..parts.len()).step_by(2) {
        let span = parts[j];
        let path: Vec<&str> = span.split("::").collect();
        let is_path = path.len() > 1 && path.iter().all(|p| name(p));
        if is_path && areas.contains(path[0]) {
            if !tests.contains(span) {
                missing.push(span.to_string());
            }
        } else if is_path && root.join("src").join(path[0]).is_dir() {
            let module = root.join("src").join(path[..path.len() - 1].join("/"));
            if !module.with_extension("rs").is_file() && !module.join("mod.rs").is_file() {
                missing.push(span.to_string());
            }
        } else if let Some(file) = span.strip_prefix("src/").filter(|f| f.ends_with(".rs")) {
            let Ok(text) = std::fs::read_to_string(root.join("src").join(file)) else {
                missing.push(format!("src/{file}"));
                continue;
            };
            // The names right after a source file (`src/x.rs` `a_test`, `another`) are
            // its unit tests.
            let mut k = j + 2;
            while k < parts.len() && parts[k - 1].chars().all(|c| c == ' ' || c == ',') {
                if !name(parts[k]) {
                    break;
                }
                if !text.contains(&format!("fn {}(", parts[k])) {
                    missing.push(format!("src/{file} {}", parts[k]));
                }
                k += 2;
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/reliability.md names tests that do not exist: {missing:#?}"
    );
}
