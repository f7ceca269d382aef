//! `jobctl logs`: a run's stored output; `--follow` prints it as it grows until the run
//! ends.

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::Global;
use crate::exit_code::code;
use crate::output::Ui;
use crate::store::Store;
use crate::{bail_code, config};

pub fn execute(
    g: &Global,
    ui: &Ui,
    run_id: Option<i64>,
    job: Option<&str>,
    follow: bool,
) -> Result<u8> {
    let cfg = config::load(g.config.as_deref())?;
    let mut store = Store::open(&cfg.runner.state_dir)?;
    crate::recovery::recover(cfg, &mut store)?;
    let run = match (run_id, job) {
        (Some(id), _) => store.get_run(id)?,
        (None, Some(j)) => store.latest_run(j)?,
        (None, None) => None,
    };
    let Some(run) = run else {
        match (run_id, job) {
            (Some(id), _) => bail_code!(code::FAILURE, "no run {id} in the history"),
            (_, Some(j)) => bail_code!(code::FAILURE, "job {j} has no runs in the history"),
            _ => bail_code!(code::USAGE, "give a RUN_ID or --job NAME"),
        }
    };
    let path = run.log_path.clone().unwrap_or_default();
    if ui.json && !follow {
        let text = std::fs::read(&path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        ui.print_json(&serde_json::json!({"run_id": run.id, "job": run.job, "status": run.status, "log_path": path, "output": text}));
        return Ok(0);
    }
    let mut out = std::io::stdout().lock();
    let mut offset = 0u64;
    let mut inode = None;
    loop {
        // A log that outgrew its cap is rewritten in place (a new file): start it over.
        if let Ok(meta) = std::fs::metadata(&path) {
            use std::os::unix::fs::MetadataExt;
            if inode.is_some_and(|i| i != meta.ino()) || meta.len() < offset {
                offset = 0;
            }
            inode = Some(meta.ino());
            if meta.len() > offset {
                let mut f = std::fs::File::open(&path)
                    .with_context(|| format!("can't read the log {path}"))?;
                f.seek(SeekFrom::Start(offset))?;
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                offset += buf.len() as u64;
                if out.write_all(&buf).and_then(|_| out.flush()).is_err() {
                    return Ok(0);
                }
            }
        } else if !follow {
            bail_code!(
                code::FAILURE,
                "run {} has no stored output ({path} is missing)",
                run.id
            );
        }
        if !follow {
            return Ok(0);
        }
        let status = store.get_run(run.id)?.map(|r| r.status);
        if status != Some(crate::core::run::RunStatus::Running) {
            // One last read catches what was written just before the end.
            follow_done(&path, offset, &mut out)?;
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(200));
        crate::recovery::recover(cfg, &mut store)?;
    }
}

fn follow_done(path: &str, offset: u64, out: &mut impl Write) -> Result<()> {
    if let Ok(mut f) = std::fs::File::open(path)
        && f.metadata()?.len() > offset
    {
        f.seek(SeekFrom::Start(offset))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        let _ = out.write_all(&buf);
    }
    Ok(())
}
