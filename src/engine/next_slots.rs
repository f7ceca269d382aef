//! Where each job's next slot is kept between commands (`core::schedule::NextSlots`):
//! `STATE_DIR/cache/next-slots.bin`, beside the state it follows from.
//!
//! A cache, never the truth: a missing, damaged or foreign file is an empty memo (every
//! schedule searched once more), and one that can't be written costs the next command
//! the same searches. Its entries check their own inputs on every use.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::config::snapshot::{read_trusted, write_private};
use crate::core::schedule::NextSlots;

/// The file's first bytes; the last one is the layout version. A CRC-32 of the rest
/// follows.
const MAGIC: &[u8; 8] = b"jobctl\xd1\x01";

fn file(state_dir: &Path) -> PathBuf {
    state_dir.join("cache").join("next-slots.bin")
}

/// The memo stored in `state_dir`, or an empty one.
pub(crate) fn load(state_dir: &Path) -> NextSlots {
    let decode = |bytes: &[u8]| {
        let rest = bytes.strip_prefix(MAGIC)?;
        let (crc, body) = rest.split_first_chunk::<4>()?;
        (u32::from_le_bytes(*crc) == crc32fast::hash(body))
            .then(|| postcard::from_bytes::<NextSlots>(body).ok())
            .flatten()
    };
    read_trusted(&file(state_dir))
        .and_then(|b| decode(&b))
        .unwrap_or_default()
}

/// Stores `memo` when something in it changed, without the jobs `cfg` no longer has.
/// Failures are logged at debug level and ignored.
pub(crate) fn save(state_dir: &Path, memo: &mut NextSlots, cfg: &Config) {
    memo.retain(|name| cfg.jobs.contains_key(name));
    if !memo.changed() {
        return;
    }
    let body = match postcard::to_stdvec(&*memo) {
        Ok(b) => b,
        Err(e) => return tracing::debug!("next slots not encoded: {e}"),
    };
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    if let Err(e) = write_private(&file(state_dir), &bytes) {
        tracing::debug!("next slots not written: {e:#}");
    }
}
