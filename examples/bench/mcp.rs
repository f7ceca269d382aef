//! B18, jobctl's tools over MCP: how long from an agent's `submit_run` call, written to
//! `jobctl mcp` on its stdin, to the submitted run's process running, and to the tool's
//! answer. The server is started once and initialized, as an agent CLI does.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// What B18 measured: medians, ms.
pub struct Submitted {
    pub to_process: f64,
    pub to_answer: f64,
    pub samples: usize,
}

const SAMPLES: usize = 20;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1e3
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn measure(bin: &Path, home: &Path) -> Result<Submitted> {
    std::fs::create_dir_all(home)?;
    let stamp = home.join("ping.stamp");
    std::fs::write(
        home.join("jobctl.toml"),
        format!(
            "[runner]\ntimezone = \"UTC\"\n\n[jobs.ping]\ntype = \"script\"\nconcurrency = 50\ncommand = [\"sh\", \"-c\", \"date +%s%N > {}\"]\n",
            stamp.display()
        ),
    )?;
    let mut server = Command::new(bin)
        .arg("mcp")
        .env("JOBCTL_HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start jobctl mcp")?;
    let mut input = server.stdin.take().context("stdin")?;
    let mut output = BufReader::new(server.stdout.take().context("stdout")?);
    let mut line = String::new();
    let mut ask = |req: String| -> Result<()> {
        writeln!(input, "{req}")?;
        input.flush()?;
        line.clear();
        output.read_line(&mut line)?;
        // A JSON-RPC error, or a tool error; a run document's own `error` field is neither.
        let answer: serde_json::Value = serde_json::from_str(&line)?;
        if answer.get("error").is_some() || answer["result"]["isError"] == true {
            bail!("jobctl mcp answered {line}");
        }
        Ok(())
    };
    ask(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#.into())?;
    let (mut to_process, mut to_answer) = (Vec::new(), Vec::new());
    for i in 1..=SAMPLES {
        let _ = std::fs::remove_file(&stamp);
        let t0 = now_ms();
        let start = Instant::now();
        ask(format!(
            r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"submit_run","arguments":{{"job":"ping"}}}}}}"#
        ))?;
        to_answer.push(start.elapsed().as_secs_f64() * 1e3);
        let deadline = Instant::now() + Duration::from_secs(30);
        let started = loop {
            if let Ok(s) = std::fs::read_to_string(&stamp)
                && let Ok(ns) = s.trim().parse::<f64>()
            {
                break ns / 1e6;
            }
            if Instant::now() > deadline {
                bail!("the submitted run never started");
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        to_process.push(started - t0);
    }
    let _ = server.kill();
    let _ = server.wait();
    Ok(Submitted {
        to_process: median(to_process),
        to_answer: median(to_answer),
        samples: SAMPLES,
    })
}
