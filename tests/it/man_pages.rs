//! The man pages as `man` shows them: each rendered by groff (`-man -Tutf8 -ww`, every
//! warning on), which must say nothing on stderr; jobctl.toml(5) shows every line of every
//! example in docs/configuration.md as written; jobctl(1) names each option's value in
//! its synopsis and calls its examples EXAMPLES.

use crate::support::*;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `roff` as groff renders it for a terminal (no overstriking or colour), and what groff
/// said on stderr.
fn groff(roff: &str) -> (String, String) {
    let mut child = match Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("groff is needed to render the man pages (apt-get install groff): {e}"),
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = roff.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "groff failed: {}", stderr(&out));
    (stdout(&out), stderr(&out))
}

fn man(env: &Env, page: &str) -> String {
    let o = env.run(&["man", page]);
    ok(&o);
    stdout(&o)
}

/// The fenced code blocks of a Markdown file, each as its lines.
fn fenced_blocks(md: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in md.lines() {
        if line.trim_start().starts_with("```") {
            match current.take() {
                Some(b) => blocks.push(b),
                None => current = Some(Vec::new()),
            }
        } else if let Some(b) = &mut current {
            b.push(line.to_string());
        }
    }
    blocks
}

#[test]
fn every_example_of_the_config_reference_shows_as_written() {
    let env = Env::new();
    let md = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    let (text, warnings) = groff(&man(&env, "jobctl.toml"));
    assert_eq!(warnings, "", "groff warned about jobctl.toml(5)");
    let rendered: Vec<&str> = text.lines().collect();
    let blocks = fenced_blocks(&md);
    assert!(blocks.len() >= 4, "found {} examples", blocks.len());
    for block in &blocks {
        for line in block.iter().filter(|l| !l.trim().is_empty()) {
            // The line as written, after the page's indentation.
            let shown = rendered.iter().any(|r| {
                r.strip_suffix(line.as_str())
                    .is_some_and(|indent| indent.chars().all(|c| c == ' '))
            });
            assert!(
                shown,
                "an example's line is not shown as written: {line:?}\n\n{text}"
            );
        }
    }
    // Backticks only where an example has them (none leak from code spans).
    let in_examples = blocks.iter().flatten().map(|l| l.matches('`').count());
    assert_eq!(
        text.matches('`').count(),
        in_examples.sum::<usize>(),
        "{text}"
    );
    // A numbered list keeps its numbers, one item a line.
    let first = rendered
        .iter()
        .position(|l| l.trim_start().starts_with("1.") && l.contains("--config PATH"))
        .unwrap_or_else(|| panic!("the numbered list of config locations:\n{text}"));
    assert!(
        rendered[first + 1].trim_start().starts_with("2.")
            && rendered[first + 1].contains("$JOBCTL_CONFIG"),
        "{}",
        rendered[first..first + 3].join("\n")
    );
    // Another doc by its file name only where no man page stands for it.
    assert!(!text.contains("(cli.md)"), "{text}");
    assert!(text.contains("edits it safely (jobctl(1))"), "{text}");
}

#[test]
fn every_page_renders_without_a_groff_warning() {
    let env = Env::new();
    ok(&env.run(&["man", "--dir", "man"]));
    let mut pages = Vec::new();
    for section in ["man1", "man5"] {
        for f in std::fs::read_dir(env.home().join("man").join(section)).unwrap() {
            pages.push(f.unwrap().path());
        }
    }
    pages.sort();
    assert!(pages.len() > 20, "{pages:?}");
    for p in &pages {
        let (text, warnings) = groff(&std::fs::read_to_string(p).unwrap());
        assert_eq!(warnings, "", "groff warned about {}", p.display());
        let name = p.file_stem().unwrap().to_str().unwrap();
        assert!(!text.contains("EXTRA"), "{name}: {text}");
        let sections: &[&str] = if name == "jobctl.toml" {
            &["NAME", "DESCRIPTION", "SEE ALSO"]
        } else {
            &["NAME", "SYNOPSIS", "EXIT STATUS", "SEE ALSO"]
        };
        for section in sections {
            assert!(
                text.lines().any(|l| l == *section),
                "{name} has {section}:\n{text}"
            );
        }
        // The same page as `jobctl man PAGE` prints it.
        let page = name.strip_prefix("jobctl-").unwrap_or(name);
        assert_eq!(man(&env, page), std::fs::read_to_string(p).unwrap());
    }

    let (main, _) = groff(&man(&env, "jobctl"));
    let synopsis: String = main
        .lines()
        .skip_while(|l| *l != "SYNOPSIS")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(synopsis.contains("[--config PATH]"), "{synopsis}");
    assert!(synopsis.contains("[--color WHEN]"), "{synopsis}");
    assert!(main.contains("\nEXAMPLES\n"), "{main}");
    let (run, _) = groff(&man(&env, "run"));
    assert!(run.contains("jobctl run --dry-run"), "{run}");
}
