//! A host of its own on the network, for the tests of a host cut off from the database:
//! a network namespace joined to this one by a veth pair, each end with an address of one
//! /30 of 198.18.0.0/15 (set aside for benchmarking by RFC 2544: no real network uses
//! it). A jobctl run inside it reaches the database only over the pair, and taking the
//! pair's outer end down cuts it off (its packets go nowhere, as when a switch dies).
//!
//! Names and addresses come from this process's pid and a counter, so tests running at
//! once (in this process or another) never share one. Everything is removed on drop, and
//! by a watchdog should the test process die first (`pg::when_this_process_dies`). It
//! needs root and `ip` (iproute2): without them a test says so in one line and passes,
//! except under `CI=true`, where it fails (CI installs iproute2 and runs as root).

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// One network namespace and the veth pair that joins it to this one.
pub struct Netns {
    /// The namespace's name (`ip netns`).
    pub name: String,
    /// The pair's end in this namespace.
    pub outer: String,
    /// The address of the outer end: where a server this side listens for the namespace.
    pub outer_addr: String,
    /// The address of the end inside the namespace.
    pub inner_addr: String,
    watchdog: Option<std::process::Child>,
}

/// `ip ARGS`; its stderr when it fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `None` (after one line saying why) when namespaces can't be made here and this is not
/// CI.
pub fn netns_or_skip(test: &str) -> Option<Netns> {
    let why = if !nix::unistd::geteuid().is_root() {
        "network namespaces need root".to_string()
    } else {
        match Netns::create() {
            Ok(n) => return Some(n),
            Err(e) => e,
        }
    };
    super::skip(test, &format!("{why} (CI runs as root with iproute2)"));
    None
}

impl Netns {
    fn create() -> Result<Netns, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let pid = std::process::id();
        let n = N.fetch_add(1, Ordering::SeqCst);
        let name = format!("jobctl-test-{pid}-{n}");
        // Interface names have at most 15 bytes.
        let (outer, inner) = (format!("jo{pid}x{n}o"), format!("jo{pid}x{n}i"));
        // A /30 that no interface here has yet (another process's test may hold one).
        let (outer_addr, inner_addr) = (0..32768u32)
            .map(|i| (pid.wrapping_mul(64).wrapping_add(n).wrapping_add(i * 97)) % 32768)
            .map(|k| {
                let (a, b, c) = (18 + (k >> 14), (k >> 6) & 255, (k & 63) * 4);
                (
                    format!("198.{a}.{b}.{}", c + 1),
                    format!("198.{a}.{b}.{}", c + 2),
                )
            })
            .find(|(o, _)| {
                Command::new("ip")
                    .args(["-o", "addr", "show", "to", &format!("{o}/30")])
                    .output()
                    .is_ok_and(|out| out.status.success() && out.stdout.is_empty())
            })
            .ok_or("no free /30 in 198.18.0.0/15")?;
        ip(&["netns", "add", &name])?;
        let mut netns = Netns {
            name,
            outer,
            outer_addr,
            inner_addr,
            watchdog: None,
        };
        netns.watchdog = Some(netns.watchdog());
        let (name, outer) = (netns.name.clone(), netns.outer.clone());
        let o_cidr = format!("{}/30", netns.outer_addr);
        let i_cidr = format!("{}/30", netns.inner_addr);
        ip(&[
            "link", "add", &outer, "type", "veth", "peer", "name", &inner,
        ])?;
        ip(&["link", "set", &inner, "netns", &name])?;
        ip(&["addr", "add", &o_cidr, "dev", &outer])?;
        ip(&["link", "set", &outer, "up"])?;
        ip(&["-n", &name, "addr", "add", &i_cidr, "dev", &inner])?;
        ip(&["-n", &name, "link", "set", &inner, "up"])?;
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// Removes the namespace and the pair should this test process die without dropping
    /// them.
    fn watchdog(&self) -> std::process::Child {
        super::pg::when_this_process_dies(&format!(
            "ip netns del {} 2>/dev/null; ip link del {} 2>/dev/null",
            self.name, self.outer
        ))
    }

    /// The network allowed to reach a server on the outer address (CIDR).
    pub fn inner_net(&self) -> String {
        format!("{}/32", self.inner_addr)
    }

    /// Cuts the namespace off: the pair's outer end goes down, and what the namespace
    /// sends is lost (no error comes back to it).
    pub fn cut(&self) {
        ip(&["link", "set", &self.outer, "down"]).expect("take the link down");
    }

    /// Joins it up again.
    pub fn mend(&self) {
        ip(&["link", "set", &self.outer, "up"]).expect("bring the link up");
    }

    /// `cmd` (its program, arguments, environment and directory) run inside the namespace.
    pub fn inside(&self, cmd: &Command) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        c.stdin(Stdio::null());
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the pair with it, unless a process still in it
        // keeps it alive: the outer end is deleted by name too, which takes its peer.
        let _ = ip(&["netns", "del", &self.name]);
        let _ = ip(&["link", "del", &self.outer]);
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}
