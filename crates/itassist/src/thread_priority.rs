//! Lowers the scheduling priority of the calling thread, for work that should take only the
//! CPU time the embedding model leaves idle.
//!
//! During an ingest, ONNX Runtime runs each batch on every core, in steps that wait for each
//! other; a parser (or index writer) thread at the same priority takes a core away in the
//! middle of a step, and the whole step waits for it. At a lower priority those threads run
//! in the gaps between the model's steps and batches instead, and the model keeps both cores
//! while it has work.
//! Threads and processes the lowered thread starts (a man page's groff child) inherit its
//! priority; that is part of parsing too.

/// The `nice` value the ingest's parser and writer threads run at: below the embedding
/// threads, but not the lowest, so that they still keep up with them on a busy machine.
pub(crate) const BACKGROUND_NICE: i32 = 10;

/// Sets the calling thread's `nice` value (Linux keeps one per thread). Best effort: a
/// failure leaves the thread at its current priority and is logged at debug level.
#[cfg(target_os = "linux")]
pub(crate) fn lower_current_thread(nice: i32) {
    // SAFETY: gettid and setpriority take and return plain integers; with PRIO_PROCESS and a
    // thread id, setpriority changes only that thread's nice value.
    let result = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
    };
    if result != 0 {
        tracing::debug!(
            "cannot lower the thread's priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Elsewhere the thread keeps its priority.
#[cfg(not(target_os = "linux"))]
pub(crate) fn lower_current_thread(_nice: i32) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn lowers_only_the_calling_thread() -> Result<(), String> {
        // SAFETY: getpriority reads the calling thread's nice value.
        let read =
            || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        let before = read();
        let lowered = std::thread::spawn(move || {
            lower_current_thread(before + 5);
            read()
        })
        .join()
        .map_err(|_| "the lowered thread panicked".to_string())?;
        assert_eq!(lowered, (before + 5).min(19));
        assert_eq!(read(), before, "the calling thread keeps its priority");
        Ok(())
    }
}
