//! A config can be loaded and dropped again and again in one process (a server that
//! reloads its config when the file changes) without its memory growing.

use std::time::Instant;

use crate::support::alone;

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4
}

#[test]
fn loading_a_config_ten_thousand_times_keeps_memory_flat() {
    // In a process of its own: it measures the process, and sets its environment.
    if !alone(
        module_path!(),
        "loading_a_config_ten_thousand_times_keeps_memory_flat",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: this process runs this one test: no other thread reads the environment.
    unsafe { std::env::set_var("JOBCTL_HOME", dir.path()) };
    let mut toml = String::from(
        "[runner]\ntimezone = \"UTC\"\n\n[agents.local]\npreset = \"command\"\ndaily_budget = 10\n\
         command = [\"echo\", \"{prompt}\"]\n\n[fallback]\norder = [\"local\"]\n\n",
    );
    for i in 0..50 {
        toml.push_str(&format!(
            "[jobs.j{i}]\ntype = \"script\"\ncommand = [\"true\"]\ncron = \"{} 3 * * *\"\n\n\
             [jobs.a{i}]\ntype = \"agent\"\nprompt = \"p{i}\"\nevery = \"{}m\"\n\n",
            i % 60,
            i + 5
        ));
    }
    let path = dir.path().join("jobctl.toml");
    std::fs::write(&path, toml).unwrap();
    let load = || {
        let cfg = jobctl::config::load_file(&path).expect("valid config");
        assert_eq!(cfg.jobs.len(), 100);
        drop(cfg);
    };
    for _ in 0..1_000 {
        load();
    }
    let warm = rss_kib();
    let t = Instant::now();
    for _ in 0..10_000 {
        load();
    }
    let grown = rss_kib().saturating_sub(warm);
    eprintln!(
        "10,000 loads in {:?}: resident memory grew by {grown} KiB (from {warm} KiB)",
        t.elapsed()
    );
    assert!(
        grown < 2_048,
        "memory grew by {grown} KiB over 10,000 loads"
    );
}
