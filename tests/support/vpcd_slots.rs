//! One process at a time on the two vpcd slots ("Virtual PCD 00 00" / "00 01"), shared by the
//! PC/SC test binaries (`#[path]`-included by `pcsc_vpcd.rs` and `pcsc_purse.rs`).
//!
//! vpcd takes one card connection per slot, so two test processes serving cards at once (two
//! test binaries under `cargo nextest`, or two checkouts testing on one machine) would steal each
//! other's cards. A `static Mutex` only serialises the threads of one binary; this lock spans
//! processes. It is an abstract Unix socket name (Linux): binding it succeeds in one process at
//! a time, and the kernel releases it when that process exits, crashed or not — no lock file to
//! go stale, no `unsafe` `flock` (and `File::lock` needs Rust 1.89, above the 1.85 MSRV).
//! Elsewhere it does nothing (vpcd runs on Linux).
//!
//! The lock is held from the first [`hold`] until the process exits: a binary keeps its cards
//! served across its tests, so the slots are busy until it is done.

/// Takes the slots for the rest of this process (waiting up to 5 minutes for another process to
/// finish); later calls return at once.
#[cfg(target_os = "linux")]
pub fn hold() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    /// How long a process waits for another to finish with the slots.
    const WAIT: Duration = Duration::from_secs(300);

    static HELD: OnceLock<UnixListener> = OnceLock::new();
    HELD.get_or_init(|| {
        let name = SocketAddr::from_abstract_name(b"quickpass-test-vpcd-slots")
            .expect("abstract socket name");
        let deadline = Instant::now() + WAIT;
        let mut told = false;
        loop {
            match UnixListener::bind_addr(&name) {
                Ok(listener) => return listener,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    assert!(
                        Instant::now() < deadline,
                        "another process held the vpcd slots for {WAIT:?}"
                    );
                    if !told {
                        eprintln!("waiting for another process to finish with the vpcd slots");
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("vpcd slot lock: {e}"),
            }
        }
    });
}

/// Takes the slots for the rest of this process (nothing to do off Linux).
#[cfg(not(target_os = "linux"))]
pub fn hold() {}
