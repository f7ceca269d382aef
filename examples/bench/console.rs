//! B17: the console in real headless Chromium (chromedriver, WebDriver) against the real
//! server: a run writing 5 MB (50,000 lines) at once, its page opened while it writes and
//! followed to its end. Timed in the page: from opening the run's page until all 50,000
//! lines are in the log view; the longest main-thread task while it loads and follows
//! (PerformanceObserver `longtask`, tasks over 50 ms).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use super::fixtures::Fixture;

pub struct Numbers {
    /// Median over the rounds, milliseconds.
    pub complete: f64,
    /// The longest main-thread task of any round, milliseconds (0: none over 50 ms).
    pub longest: f64,
    pub rounds: usize,
}

const ROUNDS: usize = 5;
const BIG: &str = "awk 'BEGIN { for (i = 1; i <= 50000; i++) printf \"line %06d %s\\n\", i, \"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstu\" }'; sleep 2; echo the end";

/// `None` when Chromium or chromedriver is not installed.
pub fn measure(bin: &Path, dir: &Path) -> Result<Option<Numbers>> {
    let Some((chromium, driver)) = super::chromium::installed() else {
        return Ok(None);
    };
    std::fs::create_dir_all(dir)?;
    let config = dir.join("jobctl.toml");
    std::fs::write(
        &config,
        format!(
            "[runner]\ntimezone = \"UTC\"\n\n[jobs.big]\ntype = \"script\"\ncommand = {}\n",
            json!(BIG)
        ),
    )?;
    let f = Fixture {
        home: dir.to_path_buf(),
        config,
        jobs: 1,
        runs: 0,
    };
    let server = super::serve::start(bin, &f)?;
    let token = super::serve::token(bin, &f)?;
    let (mut driver, driver_url) = super::chromium::start_driver(&driver, dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let done = rt.block_on(rounds(
        &chromium,
        &driver_url,
        &server.base,
        &token,
        bin,
        &f,
    ));
    let _ = driver.kill();
    let _ = driver.wait();
    done.map(Some)
}

async fn rounds(
    chromium: &Path,
    driver_url: &str,
    base: &str,
    token: &str,
    bin: &Path,
    f: &Fixture,
) -> Result<Numbers> {
    let c = super::chromium::session(chromium, driver_url).await?;
    c.goto(base).await?;
    c.wait()
        .for_element(Locator::Css("#token"))
        .await?
        .send_keys(token)
        .await?;
    c.find(Locator::Css("#signin button[type=submit]"))
        .await?
        .click()
        .await?;
    until(
        &c,
        "return document.querySelectorAll('#jobs tbody tr').length > 0",
    )
    .await?;
    let mut complete = Vec::new();
    let mut longest: f64 = 0.0;
    for _ in 0..ROUNDS {
        let out = Command::new(bin)
            .args(["--config", super::s(&f.config), "submit", "big"])
            .env("JOBCTL_HOME", &f.home)
            .output()?;
        let id: i64 = String::from_utf8(out.stdout)?.trim().parse()?;
        let agent = ureq::agent();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = agent
                .get(format!("{base}/api/v1/runs/{id}/log?tail=0"))
                .header("Authorization", &format!("Bearer {token}"))
                .call()?;
            let size: u64 = r
                .headers()
                .get("x-log-next")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(0);
            if size >= 5_000_000 {
                break;
            }
            if Instant::now() > deadline {
                bail!("run {id} did not write 5 MB");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        c.execute(
            &format!(
                "window.__long = []; \
                 new PerformanceObserver((l) => {{ for (const e of l.getEntries()) window.__long.push(e.duration); }}) \
                   .observe({{ type: 'longtask' }}); \
                 const t0 = performance.now(); window.__done = null; \
                 (function look() {{ const l = document.querySelector('#log'); \
                   if (l && Number(l.dataset.lines) >= 50000) window.__done = performance.now() - t0; \
                   else requestAnimationFrame(look); }})(); \
                 location.hash = '#/run/{id}'; return true"
            ),
            vec![],
        )
        .await?;
        let ms = until(&c, "return window.__done").await?;
        complete.push(ms.as_f64().unwrap_or(f64::NAN));
        until(
            &c,
            "const l = [...document.querySelectorAll('#log .log-lines div')]; \
             return l.length > 0 && l[l.length - 1].textContent === 'the end'",
        )
        .await?;
        let long: Vec<f64> =
            serde_json::from_value(c.execute("return window.__long", vec![]).await?)?;
        longest = long.into_iter().fold(longest, f64::max);
        c.execute("location.hash = '#/jobs'; return true", vec![])
            .await?;
    }
    c.close().await?;
    complete.sort_by(f64::total_cmp);
    Ok(Numbers {
        complete: complete[complete.len() / 2],
        longest,
        rounds: ROUNDS,
    })
}

/// Polls `script` in the page until it returns something other than null or false.
async fn until(c: &Client, script: &str) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = c.execute(script, vec![]).await?;
        if !(v.is_null() || v == Value::Bool(false)) {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out: {script}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
