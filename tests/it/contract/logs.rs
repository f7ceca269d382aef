//! Run logs kept in the store (`LogStore`), for a backend that keeps them: several hosts
//! share it, and the host that ran a job is not the one a reader asks. Output goes in by
//! position as the run writes it and comes out in slices from any position; only the last
//! `cap` bytes are kept; an ended run's log reads back from any handle, and goes with the
//! run when it is pruned. (A store whose logs are the files of its state directory, SQLite,
//! keeps none: `jobctl logs` reads the file.)

use std::time::{Duration, Instant};

use jobctl::core::run::RunStatus;
use jobctl::store::{LogStore, StoredLog};

use super::{Backend, claimed, end, forced};

const MIB: u64 = 1 << 20;

/// The whole log of run `id` from position `from`, read `max` bytes at a time.
fn read_all(s: &dyn LogStore, id: i64, from: u64, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let piece = s.read_log(id, next, max).unwrap();
        assert!(piece.data.len() <= max, "at most {max} bytes: {piece:?}");
        if piece.data.is_empty() {
            return out;
        }
        assert_eq!(piece.next, next + piece.data.len() as u64, "{piece:?}");
        out.extend_from_slice(&piece.data);
        next = piece.next;
    }
}

pub fn a_log_is_appended_by_position_and_read_in_slices<B: Backend>(b: &B) {
    let mut s = b.open();
    assert!(s.keeps_logs());
    let run = claimed(s.claim_run(&forced("j", 1)).unwrap());
    let other = claimed(s.claim_run(&forced("k", 1)).unwrap());
    s.append_log(run.id, 0, b"hello\n", MIB).unwrap();
    s.append_log(run.id, 6, b"world\n", MIB).unwrap();
    s.append_log(other.id, 0, b"other\n", MIB).unwrap();
    assert_eq!(
        s.read_log(run.id, 0, 100).unwrap(),
        StoredLog {
            dropped: 0,
            data: b"hello\nworld\n".to_vec(),
            next: 12,
            end: 12,
        }
    );
    // Slices from any position, across the pieces it was appended in.
    let slice = |from, max| {
        let l = s.read_log(run.id, from, max).unwrap();
        (String::from_utf8(l.data).unwrap(), l.next, l.end)
    };
    assert_eq!(slice(0, 4), ("hell".into(), 4, 12));
    assert_eq!(slice(4, 4), ("o\nwo".into(), 8, 12));
    assert_eq!(slice(8, 100), ("rld\n".into(), 12, 12));
    assert_eq!(
        slice(12, 100),
        (String::new(), 12, 12),
        "nothing past the end"
    );
    assert_eq!(
        slice(3, 0),
        (String::new(), 3, 12),
        "nothing asked, nothing read"
    );
    assert_eq!(read_all(&*s, run.id, 0, 5), b"hello\nworld\n");
    // A piece copied again (a copy retried after an error) is not kept twice.
    s.append_log(run.id, 6, b"world\n", MIB).unwrap();
    assert_eq!(read_all(&*s, run.id, 0, 100), b"hello\nworld\n");
    // Each run has its own log; a run with none reads empty.
    assert_eq!(read_all(&*s, other.id, 0, 100), b"other\n");
    assert_eq!(
        s.read_log(run.id + 100, 0, 100).unwrap(),
        StoredLog::default()
    );
}

pub fn a_log_keeps_the_last_cap_bytes<B: Backend>(b: &B) {
    let mut s = b.open();
    let id = claimed(s.claim_run(&forced("j", 1)).unwrap()).id;
    s.append_log(id, 0, b"0123456789", 10).unwrap();
    s.append_log(id, 10, b"abcdef", 10).unwrap();
    // What lies more than 10 bytes before the end is gone, also from a piece it cuts.
    let l = s.read_log(id, 0, 100).unwrap();
    assert_eq!(
        (l.dropped, l.data.as_slice(), l.next, l.end),
        (6, &b"6789abcdef"[..], 16, 16),
        "a read from a dropped position starts at the first byte kept"
    );
    // Of a piece larger than the cap, only its end is kept.
    s.append_log(id, 16, b"ABCDEFGHIJKLMNOPQRST", 10).unwrap();
    let l = s.read_log(id, 20, 100).unwrap();
    assert_eq!(
        (l.dropped, l.data.as_slice(), l.end),
        (26, &b"KLMNOPQRST"[..], 36)
    );
    // Trimmed to where the run's log file starts (a capped file keeps whole lines).
    s.trim_log(id, 30).unwrap();
    let l = s.read_log(id, 0, 100).unwrap();
    assert_eq!((l.dropped, l.data.as_slice()), (30, &b"OPQRST"[..]));
}

pub fn a_log_followed_while_it_is_written_reads_each_byte_once_in_order<B: Backend>(b: &B) {
    let mut s = b.open();
    let id = claimed(s.claim_run(&forced("j", 1)).unwrap()).id;
    let pieces: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("line {i} {}\n", "x".repeat(i % 37)).into_bytes())
        .collect();
    let whole: Vec<u8> = pieces.concat();
    let mut writer = s
        .log_writer()
        .unwrap()
        .expect("a store that keeps logs has a writer");
    let reader = b.open();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut pos = 0;
            for p in &pieces {
                writer.append_log(id, pos, p, MIB).unwrap();
                pos += p.len() as u64;
            }
        });
        // The reader goes on from where it stopped, as `jobctl logs -f` on another host,
        // in slices that end inside pieces.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        let mut next = 0;
        while seen.len() < whole.len() {
            assert!(
                Instant::now() < deadline,
                "read {} bytes of {}",
                seen.len(),
                whole.len()
            );
            let l = reader.read_log(id, next, 29).unwrap();
            assert_eq!(l.dropped, 0);
            assert_eq!(l.next, next + l.data.len() as u64);
            seen.extend_from_slice(&l.data);
            assert!(
                whole.starts_with(&seen),
                "the reader saw {} bytes out of order",
                seen.len()
            );
            next = l.next;
        }
        assert_eq!(seen, whole);
    });
}

pub fn an_ended_runs_log_is_read_back_and_goes_with_the_run<B: Backend>(b: &B) {
    let mut s = b.open();
    let first = claimed(s.claim_run(&forced("j", 1)).unwrap());
    s.append_log(first.id, 0, b"the first run's output\n", MIB)
        .unwrap();
    s.finish_run(first.id, &end(RunStatus::Succeeded, 2))
        .unwrap();
    // Any handle (another host) reads it back once the run has ended.
    let other = b.open();
    assert_eq!(
        read_all(&*other, first.id, 0, 7),
        b"the first run's output\n"
    );
    // Pruned with its run, and only with it.
    let second = claimed(s.claim_run(&forced("j", 3)).unwrap());
    s.append_log(second.id, 0, b"the second\n", MIB).unwrap();
    s.finish_run(second.id, &end(RunStatus::Failed, 4)).unwrap();
    s.prune_runs("j", 1).unwrap();
    assert!(s.get_run(first.id).unwrap().is_none());
    assert_eq!(
        other.read_log(first.id, 0, 100).unwrap(),
        StoredLog::default()
    );
    assert_eq!(read_all(&*other, second.id, 0, 100), b"the second\n");
}
