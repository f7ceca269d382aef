//! The store contract (`tests/contract/`) against PostgreSQL: each check on a fresh
//! database of one throwaway cluster, its handles separate connections as processes (and
//! hosts) open them. Without PostgreSQL installed it says so and passes (fails under CI).
#![cfg(feature = "postgres")]

mod contract;
#[path = "common/pg.rs"]
mod pg;

use std::path::PathBuf;

use jobctl::store::Store;
use jobctl::store::postgres::PgStore;

struct Postgres {
    url: String,
    _dir: tempfile::TempDir,
    state: PathBuf,
}

impl contract::Backend for Postgres {
    fn open(&self) -> Box<dyn Store> {
        Box::new(
            PgStore::open(&self.url, "test-host", &self.state).expect("open the state database"),
        )
    }
}

#[test]
fn postgres_passes_the_store_contract() {
    let Some(cluster) = pg::cluster_or_skip("postgres_passes_the_store_contract") else {
        return;
    };
    contract::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        Postgres {
            url: cluster.create_db(),
            _dir: dir,
            state,
        }
    });
}
