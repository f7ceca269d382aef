//! Who may have written a file jobctl trusts. The config decides what commands run, and
//! the state directory holds the files jobctl writes (perhaps as root): both must be
//! beyond the reach of other users, or another user could make jobctl run their command
//! or write through a planted symlink.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;

fn describe_mode(meta: &Metadata) -> String {
    format!("{:o}", meta.mode() & 0o7777)
}

/// Whether another user could write it: others' write bit, or the group's unless the
/// group is this user's own primary group.
fn writable_by_others(meta: &Metadata) -> Option<&'static str> {
    let mode = meta.mode();
    if mode & 0o002 != 0 {
        return Some("writable by every user");
    }
    if mode & 0o020 != 0 && meta.gid() != nix::unistd::getegid().as_raw() {
        return Some("writable by its group");
    }
    None
}

/// A directory jobctl keeps its state in: owned by this user, writable by no one else.
pub(crate) fn private_to_me(meta: &Metadata) -> Result<(), String> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(format!(
            "it belongs to uid {}, not to this user (uid {me}); jobctl writes its state only where no one else can",
            meta.uid()
        ));
    }
    if let Some(why) = writable_by_others(meta) {
        return Err(format!(
            "it is {why} (mode {}); chmod 700 it",
            describe_mode(meta)
        ));
    }
    Ok(())
}

/// A config file: owned by this user or by root, writable by no one else.
pub(crate) fn trusted_config(meta: &Metadata) -> Result<(), String> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "it belongs to uid {}, neither this user (uid {me}) nor root; it decides what commands jobctl runs",
            meta.uid()
        ));
    }
    if let Some(why) = writable_by_others(meta) {
        return Err(format!(
            "it is {why} (mode {}), and it decides what commands jobctl runs; chmod go-w it",
            describe_mode(meta)
        ));
    }
    Ok(())
}
