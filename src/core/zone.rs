//! Time zone lookup: IANA names and the system's zone.
//!
//! jiff's general lookup first lists the whole zoneinfo tree (dozens of directories and
//! about 600 files), which costs more than everything else a tick does. A name maps to one
//! file, so it is read directly; the general lookup remains the fallback for other layouts
//! and for `TZ` values that are not plain names. Where the system has no zoneinfo, or not
//! the zone named, the copy of the IANA database compiled into jobctl answers (jiff's
//! `tzdb-bundle-always`): a slim container image without tzdata still runs jobs in
//! `"Europe/Paris"`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Deref;
use std::path::Path;
use std::sync::OnceLock;

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// A zone as the config names it (`"local"` or an IANA name) with what the name resolved
/// to. It is stored by name: reading it back resolves the name again, so a stored config
/// follows changes to `TZ`, `/etc/localtime` and the zone files.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub(crate) struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    pub(crate) fn named(name: &str) -> Result<Zone, String> {
        Ok(Zone {
            name: name.to_string(),
            tz: by_name(name)?,
        })
    }

    pub(crate) fn local() -> Zone {
        Zone {
            name: "local".into(),
            tz: system(),
        }
    }

    pub(crate) fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Deref for Zone {
    type Target = TimeZone;

    fn deref(&self) -> &TimeZone {
        &self.tz
    }
}

impl From<Zone> for String {
    fn from(z: Zone) -> String {
        z.name
    }
}

impl TryFrom<String> for Zone {
    type Error = String;

    fn try_from(name: String) -> Result<Zone, String> {
        Zone::named(&name)
    }
}

const ZONEINFO_DIRS: [&str; 4] = [
    "/usr/share/zoneinfo",
    "/usr/lib/zoneinfo",
    "/usr/share/lib/zoneinfo",
    "/etc/zoneinfo",
];

/// Resolves `"local"` or an IANA zone name; each name once per process (jobs of one zone
/// share it).
pub(crate) fn by_name(name: &str) -> Result<TimeZone, String> {
    thread_local! {
        static RESOLVED: RefCell<HashMap<String, TimeZone>> = Default::default();
    }
    if name == "local" {
        return Ok(system());
    }
    if let Some(tz) = RESOLVED.with(|m| m.borrow().get(name).cloned()) {
        return Ok(tz);
    }
    let tz = read_named(name).map(Ok).unwrap_or_else(|| {
        TimeZone::get(name)
            .or_else(|_| jiff::tz::TimeZoneDatabase::bundled().get(name))
            .map_err(|_| {
            format!(
                "expected \"local\" or an IANA time zone name (e.g. \"Europe/Amsterdam\"), found {name:?}"
            )
        })
    })?;
    RESOLVED.with(|m| m.borrow_mut().insert(name.to_string(), tz.clone()));
    Ok(tz)
}

/// ` (did you mean "Europe/Amsterdam"?)` for a zone name that is not one, from the names
/// the system's zone database knows; nothing when none is close. Only asked on an error.
pub(crate) fn suggest(name: &str) -> String {
    let known: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.as_str().to_string())
        .collect();
    crate::core::names::closest(
        name,
        known.iter().map(String::as_str).chain(["local", "UTC"]),
    )
    .map(|m| format!(" (did you mean {m:?}?)"))
    .unwrap_or_default()
}

/// The system's zone, as jiff's `TimeZone::system` finds it: `TZ` when set, else
/// `/etc/localtime` (named after its symlink target when that is in a zoneinfo tree).
/// Looked up once per process.
pub(crate) fn system() -> TimeZone {
    static SYSTEM: OnceLock<TimeZone> = OnceLock::new();
    SYSTEM.get_or_init(find_system).clone()
}

fn find_system() -> TimeZone {
    match std::env::var_os("TZ") {
        Some(tz) => {
            // `TZ=Europe/Berlin` and `TZ=:Europe/Berlin` name a zone; anything else (a
            // POSIX rule, a path, an empty value) is jiff's to interpret.
            let named = tz
                .to_str()
                .map(|s| s.strip_prefix(':').unwrap_or(s))
                .and_then(read_named);
            named.unwrap_or_else(TimeZone::system)
        }
        None => localtime(Path::new("/etc/localtime")).unwrap_or_else(TimeZone::system),
    }
}

/// `/etc/localtime`, named after its symlink target's path below `zoneinfo/`.
fn localtime(path: &Path) -> Option<TimeZone> {
    let target = std::fs::read_link(path).ok()?;
    let target = target.to_str()?;
    let name = &target[target.rfind("zoneinfo/")? + "zoneinfo/".len()..];
    if !is_plain(name) {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    TimeZone::tzif(name, &bytes).ok()
}

/// A name that stays inside a zoneinfo directory.
fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// A plain zone name read from its TZif file in `TZDIR` or a usual zoneinfo directory.
fn read_named(name: &str) -> Option<TimeZone> {
    if matches!(name, "UTC" | "Etc/UTC") {
        return Some(TimeZone::UTC);
    }
    if !is_plain(name) {
        return None;
    }
    let tzdir = std::env::var("TZDIR").ok().filter(|d| !d.is_empty());
    tzdir
        .as_deref()
        .into_iter()
        .chain(ZONEINFO_DIRS)
        .find_map(|dir| {
            let bytes = std::fs::read(Path::new(dir).join(name)).ok()?;
            TimeZone::tzif(name, &bytes).ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_their_rules() {
        let tz = by_name("Europe/Amsterdam").unwrap();
        assert_eq!(tz.iana_name(), Some("Europe/Amsterdam"));
        let summer: jiff::Timestamp = "2026-07-01T12:00:00Z".parse().unwrap();
        assert_eq!(tz.to_offset(summer).seconds(), 2 * 3600);
        assert_eq!(by_name("UTC").unwrap().iana_name(), Some("UTC"));
    }

    #[test]
    fn bad_names_are_refused_not_read() {
        for bad in [
            "Nowhere/Special",
            "../etc/passwd",
            "/etc/passwd",
            "",
            "Europe//Paris",
        ] {
            let e = by_name(bad).unwrap_err();
            assert!(e.contains("IANA time zone name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn localtime_is_named_after_its_symlink_target() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("localtime");
        std::os::unix::fs::symlink("/usr/share/zoneinfo/America/New_York", &link).unwrap();
        let tz = localtime(&link).unwrap();
        assert_eq!(tz.iana_name(), Some("America/New_York"));
        // A plain file carries no name: jiff's own lookup handles it.
        let plain = dir.path().join("plain");
        std::fs::copy("/usr/share/zoneinfo/America/New_York", &plain).unwrap();
        assert!(localtime(&plain).is_none());
    }
}
