//! SIGINT, SIGTERM and SIGHUP: a thread waits for them, removes this process's temporary files
//! ([`cs_format::temp::remove_live`]) and exits 128 + the signal (130, 143, 129) — unless a
//! [`Deferred`] guard is held: a step that must not stop half-way (a journaled project change)
//! then sees the signal with [`pending`] and finishes or undoes its step first.

use std::sync::{Mutex, Once};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// Guards held now, and a signal that arrived while one was held (0: none). One lock, so that
/// the signal thread never exits between a guard being taken and its step starting.
struct State {
    deferring: usize,
    pending: i32,
}

static STATE: Mutex<State> = Mutex::new(State {
    deferring: 0,
    pending: 0,
});
static INSTALL: Once = Once::new();

fn with_state<T>(f: impl FnOnce(&mut State) -> T) -> T {
    let mut guard = match STATE.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    f(&mut guard)
}

/// Start handling the signals (once per process; later calls do nothing). If the handler
/// cannot be installed the default actions stay.
pub fn install() {
    INSTALL.call_once(|| {
        // A write past the file-size limit (`ulimit -f`) then fails with EFBIG, an error like a
        // full disk (the temporary file is removed, the output named), instead of killing the
        // process with SIGXFSZ and leaving the temporary file behind.
        let _ = signal_hook::flag::register(
            signal_hook::consts::SIGXFSZ,
            std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
        );
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    // Exits while holding the state lock, so no guard can start meanwhile.
                    with_state(|s| {
                        if s.deferring > 0 {
                            s.pending = sig;
                        } else {
                            exit_on(sig);
                        }
                    });
                }
            });
    });
}

/// Remove this process's temporary files and exit as a process stopped by `sig` does.
pub fn exit_on(sig: i32) -> ! {
    cs_format::temp::remove_live();
    std::process::exit(128 + sig)
}

/// While held, signals wait for [`pending`] instead of stopping the process; dropping the last
/// guard with a signal pending exits.
#[derive(Debug)]
pub struct Deferred(());

impl Deferred {
    /// Hold signals until this guard is dropped.
    pub fn start() -> Deferred {
        install();
        with_state(|s| s.deferring += 1);
        Deferred(())
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        with_state(|s| {
            s.deferring = s.deferring.saturating_sub(1);
            if s.deferring == 0 && s.pending != 0 {
                exit_on(s.pending);
            }
        });
    }
}

/// A signal that arrived while signals were deferred.
pub fn pending() -> Option<i32> {
    match with_state(|s| s.pending) {
        0 => None,
        sig => Some(sig),
    }
}

/// Forget a pending signal: the step it arrived during is complete and its result stands.
pub fn forget_pending() {
    with_state(|s| s.pending = 0);
}

/// Err (quietly) when a signal arrived while deferred: the caller undoes its step and returns;
/// dropping the [`Deferred`] guard then exits.
pub fn stop_if_signalled() -> crate::Outcome {
    match pending() {
        Some(_) => Err(crate::Failure::Quiet),
        None => Ok(()),
    }
}
