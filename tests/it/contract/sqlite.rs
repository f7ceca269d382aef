//! The store contract against SQLite, the default backend: each check on a fresh database
//! in a temp dir, its handles opened separately as processes open them. Its run logs are
//! the files of the state directory and one host uses it, so it keeps no logs and fences
//! nothing: the parts for those are not its.

use std::path::PathBuf;

use jobctl::store::Store;
use jobctl::store::sqlite::SqliteStore;

use super::Backend;

pub struct Sqlite {
    _dir: tempfile::TempDir,
    state: PathBuf,
}

impl Backend for Sqlite {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(&self.state).expect("open the state database"))
    }
}

fn fresh(_check: &str) -> Option<Sqlite> {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    Some(Sqlite { _dir: dir, state })
}

contract_tests!(fresh);

/// The parts of the contract that are not SQLite's are so because it says so.
#[test]
fn it_keeps_no_logs_and_fences_nothing() {
    let b = fresh("").unwrap();
    let mut s = b.open();
    assert!(!s.keeps_logs());
    assert!(s.log_writer().unwrap().is_none());
    s.set_fence(Some(jobctl::store::Fence {
        key: "j".into(),
        epoch: 1,
        lease: std::time::Duration::ZERO,
    }));
    s.set_meta("k", "v").unwrap();
    assert_eq!(s.get_meta("k").unwrap().as_deref(), Some("v"));
}
