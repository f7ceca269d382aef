//! The real agent CLIs (claude, codex, gemini) some tests run: installed at the versions
//! pinned in `tests/realcli/package-lock.json` by `npm ci --prefix tests/realcli`.

use std::path::{Path, PathBuf};

/// Where `npm ci` in `tests/realcli` puts the CLIs.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realcli/node_modules/.bin")
}

/// Whether the real `name` CLI is installed; under CI a missing one fails the test.
pub fn have(name: &str) -> bool {
    let p = bin_dir().join(name);
    if p.exists() {
        return true;
    }
    super::skip(
        &format!("the real {name} CLI"),
        &format!(
            "it is missing at {} (npm ci --prefix tests/realcli)",
            p.display()
        ),
    );
    false
}
