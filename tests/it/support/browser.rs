//! Real headless Chromium driven over WebDriver (chromedriver), for the console's journey
//! tests: a browser session, polling the page with a deadline, clicking through live
//! re-renders, screenshots (also into `docs/images` with `JOBCTL_DOCS_SCREENSHOTS=1`),
//! the browser's console errors, axe-core injected from npm (`tests/realcli`, `npm ci`)
//! with its serious and critical violations, and the 360 px "nothing scrolls sideways"
//! check. Without Chromium the caller says so and passes, except under `CI=true`.

use super::server;
use super::*;

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// Chromium and chromedriver, shared with the benchmark's B17, whose file it is.
#[path = "../../../examples/bench/chromium.rs"]
mod chromium;

/// chromedriver and one browser session; both end when dropped.
pub struct Browser {
    driver: Child,
    driver_url: String,
    pub client: Option<Client>,
    /// The temp dir of chromedriver and Chromium (their profile and singleton socket),
    /// removed with the browser.
    _tmp: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A browser, or `None` (after saying why) when Chromium is not installed outside CI.
pub async fn browser() -> Option<Browser> {
    let Some((chromium, driver)) = chromium::installed() else {
        skip(
            "the browser test",
            "Chromium or chromedriver is missing (Debian: apt-get install chromium chromium-driver)",
        );
        return None;
    };
    let tmp = tempfile::tempdir().expect("a temp dir for the browser");
    let (child, driver_url) =
        chromium::start_driver(&driver, tmp.path()).unwrap_or_else(|e| panic!("{e:#}"));
    let client = chromium::session(&chromium, &driver_url)
        .await
        .expect("open a Chromium session");
    Some(Browser {
        driver: child,
        driver_url,
        client: Some(client),
        _tmp: tmp,
    })
}

impl Browser {
    pub fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Runs `script` (a function body) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.c()
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Polls `script` until it returns something other than null/false.
    pub async fn until(&self, what: &str, limit: Duration, script: &str) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let v = self.js(script).await;
            if !(v.is_null() || v == Value::Bool(false)) {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.js("return document.body.innerText").await;
                panic!("timed out after {limit:?} waiting for {what}; the page shows:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }

    /// Clicks the element `css` selects, finding it again when a live view re-rendered
    /// it between finding and clicking (a stale element).
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let found = self
                .c()
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"));
            match found.click().await {
                Ok(()) => return,
                Err(e) if e.to_string().contains("stale element") && Instant::now() < deadline => {}
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    pub async fn sign_in(&self, base: &str, token: &str) {
        self.c().goto(base).await.unwrap();
        // The form may be drawn again while the page settles: find it afresh until the
        // token is typed into the one on the page.
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let area = self
                .c()
                .wait()
                .at_most(Duration::from_secs(15))
                .for_element(Locator::Css("#token"))
                .await
                .unwrap();
            match area.send_keys(token).await {
                Ok(()) => break,
                Err(e) if std::time::Instant::now() < deadline => {
                    eprintln!("typing the token again: {e}");
                }
                Err(e) => panic!("can't type the token: {e}"),
            }
        }
        self.click("#signin button[type=submit]").await;
        self.until(
            "the jobs table",
            Duration::from_secs(15),
            "return document.querySelectorAll('#jobs tbody tr').length > 0",
        )
        .await;
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.c().screenshot().await.unwrap();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
        if std::env::var("JOBCTL_DOCS_SCREENSHOTS").is_ok_and(|v| v == "1") {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/images");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(format!("console-{name}.png")), &png).unwrap();
        }
    }

    /// The browser's console messages at level SEVERE (errors, failed requests).
    pub fn console_errors(&self, session: &str) -> Vec<Value> {
        let agent = server::agent();
        let mut resp = agent
            .post(format!("{}/session/{session}/se/log", self.driver_url))
            .send_json(json!({ "type": "browser" }))
            .expect("read the browser's console log");
        let v: Value = resp.body_mut().read_json().unwrap();
        v["value"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["level"] == "SEVERE")
            .collect()
    }
}

/// axe-core's script, from the npm packages of `tests/realcli` (`npm ci --prefix
/// tests/realcli`); `None` (after saying why) when it is missing outside CI.
fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/realcli/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            skip(
                "the accessibility check",
                &format!("{}: {e} (npm ci --prefix tests/realcli)", path.display()),
            );
            None
        }
    }
}

impl Browser {
    /// Opens `hash` (`#/runs?job=x`) of the console at `base` and waits for its view to be
    /// drawn (its heading, the page no longer busy, and `main` saying which hash it drew).
    pub async fn open(&self, base: &str, hash: &str) {
        self.c().goto(&format!("{base}/{hash}")).await.unwrap();
        self.until(
            hash,
            Duration::from_secs(15),
            &format!(
                "const m = document.querySelector('main'), h = {}; \
                 return location.hash === h && !!m.querySelector('h1') && \
                   m.getAttribute('aria-busy') !== 'true' && (m.dataset.hash ?? h) === h",
                json!(hash)
            ),
        )
        .await;
    }

    /// Waits until the view on screen has drawn its heading and finished loading.
    pub async fn settled(&self, what: &str) {
        self.until(
            what,
            Duration::from_secs(15),
            "const h = document.querySelector('main h1'); \
             return !!h && !document.querySelector('main [aria-busy=true]')",
        )
        .await;
    }

    /// axe-core on the page as it is: panics listing every serious or critical violation.
    pub async fn axe(&self, view: &str) {
        let Some(src) = axe_source() else { return };
        if self.js("return typeof window.axe").await != json!("object") {
            self.c()
                .execute(&format!("{src}\n;return true"), vec![])
                .await
                .expect("inject axe-core");
        }
        let found = self
            .c()
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 axe.run(document, { resultTypes: ['violations'] }).then((r) => done(r.violations \
                   .filter((v) => v.impact === 'serious' || v.impact === 'critical') \
                   .map((v) => ({ id: v.id, impact: v.impact, help: v.help, \
                      nodes: v.nodes.slice(0, 5).map((n) => n.html) })))) \
                 .catch((e) => done([{ id: 'axe failed', help: String(e) }]));",
                vec![],
            )
            .await
            .expect("run axe-core");
        assert_eq!(
            found,
            json!([]),
            "axe-core finds serious or critical violations on {view}"
        );
    }

    /// Nothing on the page scrolls sideways: neither the page nor any table or box in it
    /// (a log's own text box aside, which scrolls its long lines by design; text only for
    /// screen readers, clipped to nothing, aside).
    pub async fn fits(&self, view: &str) {
        let wide = self
            .js(
                "const out = []; const d = document.documentElement; \
                 if (d.scrollWidth > window.innerWidth) out.push('page ' + d.scrollWidth + ' > ' + window.innerWidth); \
                 const clipped = (el) => { for (; el; el = el.parentElement) \
                   if (getComputedStyle(el).clip !== 'auto') return true; return false; }; \
                 for (const el of document.querySelectorAll('main *')) { \
                   if (el.closest('.log-lines') || clipped(el)) continue; \
                   const r = el.getBoundingClientRect(); \
                   if (r.width > 0 && (r.right > window.innerWidth + 1 || r.left < -1)) \
                     out.push(el.tagName + (el.id ? '#' + el.id : '') + '.' + el.className + ' ' + Math.round(r.left) + '..' + Math.round(r.right)); \
                   if (getComputedStyle(el).overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1 && !el.classList.contains('log-view')) \
                     out.push('scrolls: ' + el.tagName + '.' + el.className + ' ' + el.scrollWidth + ' > ' + el.clientWidth); \
                 } return out.slice(0, 10);",
            )
            .await;
        assert_eq!(
            wide,
            json!([]),
            "{view} does not fit {} px",
            self.js("return window.innerWidth").await
        );
    }

    /// The browser's console errors so far, over this session.
    pub async fn errors(&self) -> Vec<Value> {
        let session = self.c().session_id().await.unwrap().unwrap();
        self.console_errors(&session)
    }

    /// Ends the session, checking first that the browser's console holds no error.
    pub async fn finish(self) {
        self.finish_allowing(&[]).await
    }

    /// Ends the session, checking first that the browser's console holds no error but
    /// the browser's own notes of failed requests that say one of `expected` (a 404 the
    /// journey asked for, a request refused while the server was down).
    pub async fn finish_allowing(mut self, expected: &[&str]) {
        let mut errors = self.errors().await;
        errors.retain(|e| {
            let m = e["message"].as_str().unwrap_or("");
            !expected.iter().any(|x| m.contains(x))
        });
        assert!(
            errors.is_empty(),
            "errors in the browser console: {errors:#?}"
        );
        self.client.take().unwrap().close().await.unwrap();
    }
}
