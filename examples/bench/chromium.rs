//! Headless Chromium through chromedriver, shared by B17 and the console's journey tests
//! (which include this file by its path): where the two programs are, chromedriver
//! started on a free port, and a WebDriver session of Chromium with its console log kept.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::{Client, ClientBuilder};
use serde_json::json;

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, when both are installed.
pub fn installed() -> Option<(PathBuf, PathBuf)> {
    let chromium = on_path("chromium").or_else(|| on_path("chromium-browser"))?;
    Some((chromium, on_path("chromedriver")?))
}

/// chromedriver on a free port (its files under `tmp`), and its address. A start that
/// does not say its port (a loaded machine, a crash) is tried again, twice.
pub fn start_driver(driver: &Path, tmp: &Path) -> Result<(Child, String)> {
    let mut why = String::new();
    for _ in 0..3 {
        match try_driver(driver, tmp) {
            Ok(started) => return Ok(started),
            Err(e) => why = format!("{e:#}"),
        }
    }
    anyhow::bail!("chromedriver did not start: {why}")
}

fn try_driver(driver: &Path, tmp: &Path) -> Result<(Child, String)> {
    let mut child = Command::new(driver)
        .arg("--port=0")
        .env("TMPDIR", tmp)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start chromedriver")?;
    let out = child.stdout.take().context("chromedriver's output")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = Vec::new();
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(p) = line.split("started successfully on port ").nth(1) {
                let _ = tx.send(Ok(p.trim_end_matches('.').trim().to_string()));
                return;
            }
            said.push(line);
        }
        let _ = tx.send(Err(said.join("\n")));
    });
    let port = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(port)) => port,
        other => {
            let _ = child.kill();
            let status = child.wait();
            anyhow::bail!("{other:?}, {status:?}");
        }
    };
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// A headless Chromium session, 1280×900, its console kept for reading.
pub async fn session(chromium: &Path, driver_url: &str) -> Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--no-first-run", "--disable-extensions"],
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    Ok(ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(driver_url)
        .await?)
}
