//! The file-system operations a capped log needs beyond reading and writing: freeing the
//! start of a file in place (punching a hole), finding where its data starts again, and
//! moving its end to its front without room for a second copy.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// Holes are punched in whole blocks of this size or the file system's, if larger: a
/// partial block would only be zeroed, which frees nothing and reads back as NULs.
pub(crate) const MIN_BLOCK: u64 = 4096;

/// The unit in which `file`'s space is freed.
pub(crate) fn block_size(file: &File) -> u64 {
    let b = file.metadata().map(|m| m.blksize()).unwrap_or(MIN_BLOCK);
    if b.is_power_of_two() {
        b.clamp(MIN_BLOCK, 1 << 20)
    } else {
        MIN_BLOCK
    }
}

pub(crate) fn align_down(x: u64, block: u64) -> u64 {
    x - x % block
}

pub(crate) fn align_up(x: u64, block: u64) -> u64 {
    x.div_ceil(block) * block
}

/// Frees `len` bytes of `file` from `offset` on, keeping its size and every other offset:
/// they read back as zeros (a hole).
#[cfg(target_os = "linux")]
pub(crate) fn punch(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use nix::fcntl::{FallocateFlags, fallocate};
    fallocate(
        file,
        FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE,
        offset as i64,
        len as i64,
    )
    .map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn punch(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Whether an error from [`punch`] means the file system can't punch holes at all.
pub(crate) fn unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(c) if c == nix::libc::EOPNOTSUPP || c == nix::libc::ENOSYS)
        || e.kind() == io::ErrorKind::Unsupported
}

/// The first offset at or after `offset` that holds data, or `None` when only holes (or
/// nothing) follow. Where holes can't be seen, every offset before the end is data.
pub(crate) fn seek_data(file: &File, offset: u64) -> io::Result<Option<u64>> {
    #[cfg(any(target_os = "linux", target_vendor = "apple", target_os = "freebsd"))]
    {
        use nix::unistd::{Whence, lseek};
        match lseek(file, offset as i64, Whence::SeekData) {
            Ok(at) => return Ok(Some(at as u64)),
            Err(nix::errno::Errno::ENXIO) => return Ok(None),
            Err(_) => {}
        }
    }
    let len = file.metadata()?.len();
    Ok((offset < len).then_some(offset))
}

/// Moves `len` bytes at `src` to `dst` (≤ `src`), front to back, so each piece is read
/// before anything overwrites it. With `punch`, the source is freed behind the copy, so
/// the file never holds much more than `len` bytes of data on disk while it moves.
pub(crate) fn move_down(
    file: &File,
    src: u64,
    dst: u64,
    len: u64,
    punch_behind: bool,
    block: u64,
) -> io::Result<()> {
    debug_assert!(dst <= src);
    if dst == src || len == 0 {
        return Ok(());
    }
    // Small pieces: a piece is the most the file holds twice at any moment.
    let mut buf = vec![0u8; MOVE_PIECE.min(len as usize)];
    let mut done = 0u64;
    let mut freed = 0u64;
    while done < len {
        let n = buf.len().min((len - done) as usize);
        file.read_exact_at(&mut buf[..n], src + done)?;
        file.write_all_at(&buf[..n], dst + done)?;
        done += n as u64;
        if punch_behind {
            // Copied source below `src + done`, none of what was just written below
            // `dst + done`: whole blocks between the two are no longer needed.
            let lo = align_up(dst + done, block).max(freed);
            let hi = align_down(src + done, block);
            if hi > lo {
                punch(file, lo, hi - lo)?;
                freed = hi;
            }
        }
    }
    Ok(())
}

const MOVE_PIECE: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_down_overlapping_ranges_keeps_every_byte() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for (src, dst) in [(100_000u64, 0u64), (1000, 10), (150_000, 149_000), (5, 5)] {
            std::fs::write(&p, &data).unwrap();
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&p)
                .unwrap();
            let len = data.len() as u64 - src;
            move_down(&f, src, dst, len, true, block_size(&f)).unwrap();
            f.set_len(dst + len).unwrap();
            let got = std::fs::read(&p).unwrap();
            assert_eq!(
                &got[dst as usize..],
                &data[src as usize..],
                "{src} -> {dst}"
            );
        }
    }

    #[test]
    fn alignment() {
        assert_eq!(align_down(8191, 4096), 4096);
        assert_eq!(align_up(4097, 4096), 8192);
        assert_eq!(align_up(4096, 4096), 4096);
    }
}
