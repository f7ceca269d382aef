//! The store contract (`contract`) against SQLite, the default backend: each check
//! on a fresh database in a temp dir, its handles opened separately as processes open them.

use crate::contract;

use std::path::PathBuf;

use jobctl::store::Store;
use jobctl::store::sqlite::SqliteStore;

struct Sqlite {
    _dir: tempfile::TempDir,
    state: PathBuf,
}

impl contract::Backend for Sqlite {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(&self.state).expect("open the state database"))
    }
}

#[test]
fn sqlite_passes_the_store_contract() {
    contract::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        Sqlite { _dir: dir, state }
    });
}
