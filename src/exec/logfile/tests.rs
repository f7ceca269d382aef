use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

/// Output whose every byte says where it is, and is never NUL (a hole read as data
/// would show) nor a newline (one long line: a trim keeps exactly what it is asked to,
/// with no line start to move to; `a_trim_keeps_whole_lines` checks lines).
fn byte_at(pos: u64) -> u8 {
    match (pos % 251) as u8 + 1 {
        b'\n' => 0xff,
        b => b,
    }
}

fn output(from: u64, len: usize) -> Vec<u8> {
    (from..from + len as u64).map(byte_at).collect()
}

fn disk_use(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().blocks() * 512
}

#[test]
fn keeps_the_end_and_says_what_was_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("logs/x/1.log");
    let mut log = LogFile::create(&p, 100).unwrap();
    for i in 0..100 {
        log.write(format!("line {i:04}\n").as_bytes()).unwrap();
    }
    let dropped = log.finish().unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(dropped, 1000 - 100);
    assert!(text.starts_with("[jobctl] output exceeded"), "{text}");
    assert!(text.ends_with("line 0099\n"));
    assert!(text.contains("the first 900 bytes were dropped"));
}

#[test]
fn a_trim_keeps_whole_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    let cap = 1000;
    let mut log = LogFile::create(&p, cap).unwrap();
    let mut all = String::new();
    for i in 0..500 {
        let line = format!("{}{i}\n", "x".repeat(i % 37));
        all.push_str(&line);
        log.write(line.as_bytes()).unwrap();
    }
    let dropped = log.finish().unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let (head, kept) = text.split_once('\n').unwrap();
    // The kept part is the end of the output, from the first line start in the last
    // `cap` bytes on.
    let tail = &all[all.len() - cap as usize..];
    let want = &tail[tail.find('\n').unwrap() + 1..];
    assert_eq!(kept, want);
    assert_eq!(dropped as usize, all.len() - want.len());
    assert!(
        head.ends_with(&format!(
            "the first {dropped} bytes were dropped, the last {} kept",
            want.len()
        )),
        "{head}"
    );
    // One line longer than the cap is cut where the cap falls.
    let p = dir.path().join("2.log");
    let mut log = LogFile::create(&p, cap).unwrap();
    log.write(&vec![b'y'; 5000]).unwrap();
    log.finish().unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    assert_eq!(text.split_once('\n').unwrap().1.len(), cap as usize);
}

#[test]
fn small_output_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    let mut log = LogFile::create(&p, 1000).unwrap();
    log.write(b"hello\n").unwrap();
    assert_eq!(log.finish().unwrap(), 0);
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello\n");
}

/// Writes `total` bytes of [`output`] in pieces of `piece`, checking after each that the
/// file takes at most `bound` bytes on disk.
fn write_all(log: &mut LogFile, p: &Path, total: u64, piece: usize, bound: u64) {
    let mut at = 0;
    while at < total {
        let n = piece.min((total - at) as usize);
        log.write(&output(at, n)).unwrap();
        at += n as u64;
        let used = disk_use(p);
        assert!(used <= bound, "{used} bytes on disk after {at} written");
    }
}

fn check_final(p: &Path, total: u64, cap: u64) {
    let file = std::fs::read(p).unwrap();
    let line = layout::header(cap, total - cap, cap);
    assert_eq!(&file[..line.len()], line.as_bytes());
    assert_eq!(file.len() as u64, line.len() as u64 + cap);
    assert!(file[line.len()..] == output(total - cap, cap as usize)[..]);
}

#[test]
fn the_disk_holds_the_cap_and_a_margin_and_offsets_never_change() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    let cap = 1 << 20;
    let mut log = LogFile::create(&p, cap).unwrap();
    if log.trim != Trim::Punch {
        eprintln!("skipped: this file system can't punch holes");
        return;
    }
    let total = 20 << 20;
    let bound = cap + log.margin + 64 * 1024;
    write_all(&mut log, &p, total, 50_000, bound);
    assert_eq!(std::fs::metadata(&p).unwrap().len(), total, "nothing moved");
    assert!(log.freed > 0);
    log.finish().unwrap();
    check_final(&p, total, cap);
}

#[test]
fn without_holes_the_tail_moves_to_the_front_at_twice_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    let cap = 64 << 10;
    let mut log = LogFile::create(&p, cap).unwrap();
    log.trim = Trim::Move;
    let total = 1 << 20;
    write_all(&mut log, &p, total, 5_000, 2 * cap + 3 * 4096 + 64 * 1024);
    log.finish().unwrap();
    check_final(&p, total, cap);
}

#[test]
fn a_new_log_replaces_a_leftover_file_and_never_follows_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    std::fs::write(&p, "left from an older database").unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep me").unwrap();
    let mut log = LogFile::create(&p, 1000).unwrap();
    log.write(b"new\n").unwrap();
    log.finish().unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "new\n");
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let q = dir.path().join("2.log");
    std::os::unix::fs::symlink(&target, &q).unwrap();
    let mut log = LogFile::create(&q, 1000).unwrap();
    log.write(b"new\n").unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    assert!(!std::fs::symlink_metadata(&q).unwrap().is_symlink());
}

/// A reader following the log while it is written, freed and compacted gets each byte
/// of output at most once, in order, never a NUL, and ends with the last byte.
fn follow_while_writing(trim: Trim) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    let cap = 4096;
    let total: u64 = 3 << 20;
    let mut log = LogFile::create(&p, cap).unwrap();
    log.trim = trim;
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let r = LogReader::open(&p).unwrap();
            let mut buf = vec![0u8; 3000];
            let mut from = None;
            let mut pieces = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                match r.read(from, false, &mut buf).unwrap() {
                    Chunk::Data { len, next } => {
                        let start = next - len as u64;
                        if from.is_some() || !buf.starts_with(b"[jobctl]") {
                            assert!(start >= from.unwrap_or(0), "{start} after {from:?}");
                            assert!(buf[..len] == output(start, len)[..], "bytes at {start}");
                        }
                        from = Some(next);
                        pieces += 1;
                    }
                    Chunk::Busy => std::thread::yield_now(),
                    Chunk::End if finished => break,
                    Chunk::End => std::thread::yield_now(),
                }
            }
            (from, pieces)
        });
        write_all(&mut log, &p, total, 1000, u64::MAX);
        log.finish().unwrap();
        done.store(true, Ordering::Release);
        let (end, pieces) = reader.join().unwrap();
        assert_eq!(end, Some(total), "the reader reached the end");
        assert!(pieces > 10, "the reader read along ({pieces} pieces)");
    });
    check_final(&p, total, cap);
}

#[test]
fn a_follower_gets_each_byte_at_most_once_in_order_while_holes_are_punched() {
    // Races: a few rounds give each a chance to show.
    for _ in 0..8 {
        follow_while_writing(Trim::Punch);
    }
}

#[test]
fn a_follower_gets_each_byte_at_most_once_in_order_while_the_tail_is_moved() {
    for _ in 0..8 {
        follow_while_writing(Trim::Move);
    }
}

#[test]
fn reading_a_log_skips_holes_and_starts_with_the_header_once_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    let cap = 8192;
    let mut log = LogFile::create(&p, cap).unwrap();
    let total = 200_000;
    write_all(&mut log, &p, total, 1000, u64::MAX);
    let r = LogReader::open(&p).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let Chunk::Data { len, next } = r.read(None, false, &mut buf).unwrap() else {
        panic!("data")
    };
    assert_eq!(next, total);
    assert!(!buf[..len].contains(&0), "no NULs from holes");
    assert!(len as u64 >= cap);
    assert_eq!(r.end().unwrap(), total);
    log.finish().unwrap();
    let Chunk::Data { len, next } = r.read(None, false, &mut buf).unwrap() else {
        panic!("data")
    };
    assert_eq!(next, total - cap, "the header, then output from there");
    assert!(buf[..len].starts_with(b"[jobctl] output exceeded log_max_bytes (8192 bytes)"));
    assert_eq!(
        r.read(Some(next), false, &mut buf).unwrap(),
        Chunk::Data {
            len: cap as usize,
            next: total
        }
    );
    assert_eq!(r.read(Some(total), false, &mut buf).unwrap(), Chunk::End);
}

/// On a full disk the log gives back some of its oldest output, keeping the newest.
fn gives_back_space_on_a_full_disk(trim: Trim) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("1.log");
    let cap = 1 << 20;
    let mut log = LogFile::create(&p, cap).unwrap();
    log.trim = trim;
    let total = 3 << 20;
    write_all(&mut log, &p, total, 50_000, u64::MAX);
    let before = disk_use(&p);
    log.give_back_space(&io::Error::from_raw_os_error(nix::libc::ENOSPC));
    let after = disk_use(&p);
    assert!(
        before - after >= FULL_DISK_GIVE_BACK - 2 * log.block,
        "{before} -> {after}"
    );
    // Nothing else on a failure of another kind.
    log.give_back_space(&io::Error::from_raw_os_error(nix::libc::EIO));
    assert_eq!(disk_use(&p), after);
    // What is left reads back as the newest output.
    let r = LogReader::open(&p).unwrap();
    let mut buf = vec![0u8; 4 << 20];
    let mut from = None;
    let mut got = Vec::new();
    while let Chunk::Data { len, next } = r.read(from, false, &mut buf).unwrap() {
        if from.is_some() || !buf.starts_with(b"[jobctl]") {
            got.push((next - len as u64, buf[..len].to_vec()));
        }
        from = Some(next);
    }
    assert_eq!(from, Some(total));
    let (start, data) = join(got);
    assert!(
        data == output(start, data.len()),
        "the newest output, from {start}"
    );
    assert!(start + data.len() as u64 == total);
}

/// Contiguous pieces read, joined: (the first one's position, all the bytes).
fn join(pieces: Vec<(u64, Vec<u8>)>) -> (u64, Vec<u8>) {
    let start = pieces.first().map_or(0, |p| p.0);
    let mut all = Vec::new();
    for (at, bytes) in pieces {
        assert_eq!(at, start + all.len() as u64, "contiguous");
        all.extend_from_slice(&bytes);
    }
    (start, all)
}

#[test]
fn on_a_full_disk_the_oldest_output_is_given_back_with_holes() {
    gives_back_space_on_a_full_disk(Trim::Punch);
}

#[test]
fn on_a_full_disk_the_oldest_output_is_given_back_by_moving_the_tail() {
    gives_back_space_on_a_full_disk(Trim::Move);
}
