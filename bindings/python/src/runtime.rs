//! Process plumbing: a fork-safe tokio runtime, a fork-safe rayon pool, waiting on Rust work
//! with the GIL released while still reacting to Ctrl-C, and the adapter that lets
//! `pyo3_async_runtimes::generic::future_into_py` run futures on our runtime.
//!
//! After `fork()` only the forking thread exists in the child: a tokio runtime or a rayon pool
//! inherited from the parent has no worker threads left and anything queued on it waits
//! forever. Both are therefore kept per process id: the first use in a new process builds a
//! fresh one and leaks the inherited one (tearing it down would wait on threads that do not
//! exist).

use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, Runtime as GenericRuntime};
use pyo3_async_runtimes::TaskLocals;

/// How often a blocked call wakes up to look for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// The process that imported the module (0 before it was imported).
static IMPORT_PID: AtomicU32 = AtomicU32::new(0);

struct Slot<T> {
    pid: u32,
    value: T,
}

static TOKIO: AtomicPtr<Slot<tokio::runtime::Runtime>> = AtomicPtr::new(std::ptr::null_mut());
static RAYON: AtomicPtr<Slot<rayon::ThreadPool>> = AtomicPtr::new(std::ptr::null_mut());

/// Returns the value of `slot` for this process, building it with `build` when the slot is
/// empty or was filled by another process (the parent of a fork). Values are never freed:
/// they live as long as the process (an inherited one must not be torn down, see the module
/// documentation).
fn per_process<T>(
    slot: &'static AtomicPtr<Slot<T>>,
    build: impl Fn() -> std::io::Result<T>,
) -> std::io::Result<&'static T> {
    let pid = std::process::id();
    loop {
        let current = slot.load(Ordering::Acquire);
        // SAFETY: a non-null pointer in the slot comes from `Box::into_raw` below and is never
        // freed once published, so it is valid for the rest of the process.
        if let Some(existing) = unsafe { current.as_ref() } {
            if existing.pid == pid {
                return Ok(&existing.value);
            }
        }
        let fresh = Box::into_raw(Box::new(Slot {
            pid,
            value: build()?,
        }));
        match slot.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // The previous value (if any) belonged to the parent process: leaked on purpose.
            // SAFETY: `fresh` was just published and is never freed.
            Ok(_) => return Ok(unsafe { &(*fresh).value }),
            Err(_) => {
                // Another thread of this process won the race; drop ours and use theirs.
                // SAFETY: `fresh` was never published, so this is its only owner.
                drop(unsafe { Box::from_raw(fresh) });
            }
        }
    }
}

/// The tokio runtime of this process (rebuilt in a forked child).
pub fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    per_process(&TOKIO, || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("itassist-py")
            .build()
    })
    .map_err(|e| PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}")))
}

/// Runs blocking core work. In the process that imported the module this is a plain call;
/// in a forked child it runs inside a rayon pool built in the child, because the global rayon
/// pool inherited from the parent (used by the vector index and the tokenizer) has no threads.
pub fn in_process_pool<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    let pid = std::process::id();
    if IMPORT_PID.load(Ordering::Relaxed) == pid {
        return work();
    }
    match per_process(&RAYON, || {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("itassist-py-rayon-{i}"))
            .build()
            .map_err(std::io::Error::other)
    }) {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// `pthread_atfork` child handler: the tokenizer's own rayon use (outside our pool, e.g. when
/// the core embeds a question on tokio's blocking pool) must not reach the dead global pool.
extern "C" fn after_fork_in_child() {
    // An atomic store: safe in a fork handler.
    tokenizers::utils::parallelism::set_parallelism(false);
}

/// Records the importing process and installs the fork handler (once per import).
pub fn init() {
    IMPORT_PID.store(std::process::id(), Ordering::Relaxed);
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: registers a handler that only performs an atomic store.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
}

/// Whether this process is a fork of the one that imported the module.
pub fn is_forked_child() -> bool {
    IMPORT_PID.load(Ordering::Relaxed) != std::process::id()
}

/// Runs `fut` on the runtime and waits for it with the GIL released, checking for Ctrl-C
/// (and other signals) every few milliseconds; on a signal the task is aborted (dropping a
/// streamed answer cancels the request on the server) and the signal's exception is raised.
pub fn wait<T, F>(py: Python<'_>, fut: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let rt = runtime()?;
    let mut handle = rt.spawn(fut);
    loop {
        // The timer must be created inside the runtime: build it in the `async` block.
        let step = py
            .detach(|| rt.block_on(async { tokio::time::timeout(SIGNAL_POLL, &mut handle).await }));
        match step {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(join)) => {
                return Err(PyRuntimeError::new_err(format!(
                    "itassist background task failed: {join}"
                )))
            }
            Err(_elapsed) => {
                if let Err(signal) = py.check_signals() {
                    handle.abort();
                    return Err(signal);
                }
            }
        }
    }
}

/// The [`GenericRuntime`] of `pyo3_async_runtimes` over our per-process tokio runtime.
pub struct ForkSafeTokio;

tokio::task_local! {
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl GenericRuntime for ForkSafeTokio {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = Pin<Box<dyn Future<Output = Result<(), tokio::task::JoinError>> + Send>>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match runtime() {
            Ok(rt) => Box::pin(rt.spawn(fut)),
            // Cannot happen once the module was imported (the runtime is built then); the
            // future is dropped and its Python future is never resolved.
            Err(_) => Box::pin(async { Ok(()) }),
        }
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        match runtime() {
            Ok(rt) => Box::pin(rt.spawn_blocking(f)),
            Err(_) => {
                f();
                Box::pin(async { Ok(()) })
            }
        }
    }
}

impl ContextExt for ForkSafeTokio {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceCell::new();
        // A fresh cell: setting it cannot fail.
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}

/// Turns a Rust future into a Python awaitable (an `asyncio.Future` of the running loop),
/// run on our runtime. Works inside an already running loop (Jupyter).
pub fn future_into_py<F, T>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    pyo3_async_runtimes::generic::future_into_py::<ForkSafeTokio, F, T>(py, fut)
}
