//! Giving back, between slots, the pages of jobctl's own code that the last tick mapped.
//!
//! A tick runs code from all over the binary (the config, the store, the claim, starting
//! a supervisor), and the kernel maps executable code 64 KiB around each page it faults
//! in: after one tick about 10 MiB of the scheduler's RSS is its own executable's text,
//! which it doesn't run again until the next slot. Those pages belong to the page cache,
//! clean and shared; dropping this process's mappings of them (`MADV_DONTNEED`) leaves
//! them cached, costs the next tick some hundred minor faults (a fraction of a
//! millisecond), and leaves the idle scheduler's RSS what it actually holds. Only the
//! executable's `r-xp` mappings: its other mappings hold relocated pages (written at
//! start-up), which the call would turn back into the file's unrelocated bytes.

/// Drops the process's mappings of its executable's code (Linux; elsewhere nothing).
pub(super) fn shed_code() {
    #[cfg(target_os = "linux")]
    linux::shed_code();
}

#[cfg(target_os = "linux")]
mod linux {
    pub(super) fn shed_code() {
        let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
            return;
        };
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
            return;
        };
        for (start, end) in code_ranges(&maps, &exe.to_string_lossy()) {
            // SAFETY: the range is a whole mapping of the executable's code, read-only and
            // never written: dropping its pages only makes the next access fault them in
            // again from the file, unchanged. Nothing here holds references into it that
            // the call could invalidate (code is re-read through page faults).
            unsafe {
                nix::libc::madvise(
                    start as *mut nix::libc::c_void,
                    end - start,
                    nix::libc::MADV_DONTNEED,
                );
            }
        }
    }

    /// The address ranges of `/proc/self/maps` lines mapping `exe` readable and
    /// executable, private, not writable.
    pub(super) fn code_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
        maps.lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let range = fields.next()?;
                let perms = fields.next()?;
                let path = fields.nth(3)?;
                if perms != "r-xp" || path != exe {
                    return None;
                }
                let (a, b) = range.split_once('-')?;
                let a = usize::from_str_radix(a, 16).ok()?;
                let b = usize::from_str_radix(b, 16).ok()?;
                (b > a).then_some((a, b))
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        /// Only the executable's own code: not its relocated data, not a library's code,
        /// not a writable or shared mapping, not a path that only starts the same.
        #[test]
        fn only_the_executables_code() {
            let maps = "\
5600a000-5600b000 r--p 00000000 fd:01 42 /usr/bin/jobctl
5600b000-5600f000 r-xp 00001000 fd:01 42 /usr/bin/jobctl
5600f000-56010000 r--p 00005000 fd:01 42 /usr/bin/jobctl
56010000-56011000 rw-p 00006000 fd:01 42 /usr/bin/jobctl
56011000-56012000 r-xs 00007000 fd:01 42 /usr/bin/jobctl
7f000000-7f100000 r-xp 00000000 fd:01 7 /usr/lib/libc.so.6
7f200000-7f201000 r-xp 00000000 fd:01 9 /usr/bin/jobctl-old
7ffd0000-7ffd1000 r-xp 00000000 00:00 0 [vdso]
";
            assert_eq!(
                super::code_ranges(maps, "/usr/bin/jobctl"),
                [(0x5600b000, 0x5600f000)]
            );
        }
    }
}
