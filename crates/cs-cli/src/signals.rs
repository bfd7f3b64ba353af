//! SIGINT, SIGTERM and SIGHUP: a thread waits for them, removes this process's temporary files
//! ([`cs_format::temp::remove_live`]) and exits 128 + the signal (130, 143, 129) — unless a
//! [`Deferred`] guard is held: a step that must not stop half-way (a journaled project change)
//! then sees the signal with [`pending`] and finishes or undoes its step first.

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::Once;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Guards held now.
static DEFERRING: AtomicUsize = AtomicUsize::new(0);
/// A signal that arrived while deferring (0: none).
static PENDING: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

/// Start handling the signals (once per process; later calls do nothing). If the handler
/// cannot be installed the default actions stay.
pub fn install() {
    INSTALL.call_once(|| {
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    if DEFERRING.load(Ordering::SeqCst) > 0 {
                        PENDING.store(sig, Ordering::SeqCst);
                    } else {
                        exit_on(sig);
                    }
                }
            });
    });
}

/// Remove this process's temporary files and exit as a process stopped by `sig` does.
pub fn exit_on(sig: i32) -> ! {
    cs_format::temp::remove_live();
    std::process::exit(128 + sig)
}

/// While held, signals wait for [`pending`] instead of stopping the process.
#[derive(Debug)]
pub struct Deferred(());

impl Deferred {
    /// Hold signals until this guard is dropped.
    pub fn start() -> Deferred {
        install();
        DEFERRING.fetch_add(1, Ordering::SeqCst);
        Deferred(())
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if DEFERRING.fetch_sub(1, Ordering::SeqCst) == 1 {
            if let Some(sig) = pending() {
                exit_on(sig);
            }
        }
    }
}

/// Err (quietly) when a signal arrived while deferred: the caller undoes its step and returns;
/// dropping the [`Deferred`] guard then exits.
pub fn stop_if_signalled() -> crate::Outcome {
    match pending() {
        Some(_) => Err(crate::Failure::Quiet),
        None => Ok(()),
    }
}

/// A signal that arrived while signals were deferred.
pub fn pending() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}
