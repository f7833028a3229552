//! How the methods of `Assistant` run: the core of this process ([`Handle`]), operations
//! ([`Op`]) run either blocking or as awaitables, and [`twin_methods!`], which gives every
//! operation its blocking method and its async twin so that its logic is written once.
//!
//! A blocking method releases the GIL while the core works (and reacts to Ctrl-C while it
//! waits for the network). Its async twin (`_a...`, wrapped by `itassist.AsyncAssistant`)
//! returns an awaitable that runs the same work on the tokio runtime's blocking pool, never
//! on the event loop.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::BoxFuture;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

use itassist::Config;

use crate::error::IntoPyResult;
use crate::runtime::{self, in_process_pool};

/// The core library's assistant.
pub type Core = itassist::Assistant;

/// Locks a mutex, recovering the data if a panic poisoned it (the data is only ever
/// replaced whole).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The configuration and the core opened from it, per process.
///
/// Several handles on one directory each open their own core; the core shares the LMDB
/// environment between them (see `itassist::index`), so this binding keeps no registry of
/// its own. A child made by `fork()` drops the core it inherited and opens a new one.
pub struct Handle {
    config: Mutex<Config>,
    opened: Mutex<Option<(u32, Arc<Core>)>>,
}

impl Handle {
    pub fn new(config: Config) -> Self {
        Handle {
            config: Mutex::new(config),
            opened: Mutex::new(None),
        }
    }

    /// The configuration the core is opened from.
    pub fn config(&self) -> Config {
        lock(&self.config).clone()
    }

    /// Replaces the configuration (after a re-index recorded another embedding model) and
    /// forgets the core, so that the next call opens one from the new configuration.
    pub fn reconfigure(&self, config: Config) {
        let mut opened = lock(&self.opened);
        *lock(&self.config) = config;
        *opened = None;
    }

    /// The core for this process, opening it on first use and again after a fork.
    /// Blocking (loads the embedding model); call it without the GIL.
    pub fn core(&self) -> itassist::Result<Arc<Core>> {
        let pid = std::process::id();
        let mut opened = lock(&self.opened);
        if let Some((owner, core)) = opened.as_ref() {
            if *owner == pid {
                return Ok(core.clone());
            }
        }
        // Inherited from the parent (or never opened): drop it before reopening, since an
        // LMDB environment can be open only once per process.
        *opened = None;
        let core = Arc::new(Core::open(self.config())?);
        *opened = Some((pid, core.clone()));
        Ok(core)
    }

    /// Forgets the core (its index closes when no other `Assistant` of this process uses it).
    pub fn close(&self) {
        *lock(&self.opened) = None;
    }

    /// Whether the core is open in this process.
    pub fn is_open(&self) -> bool {
        lock(&self.opened)
            .as_ref()
            .is_some_and(|(pid, _)| *pid == std::process::id())
    }
}

/// The core opened for this process, without blocking the event loop.
pub async fn core_async(handle: Arc<Handle>) -> itassist::Result<Arc<Core>> {
    tokio::task::spawn_blocking(move || in_process_pool(|| handle.core()))
        .await
        .map_err(|e| itassist::Error::Index {
            reason: format!("opening the assistant failed: {e}"),
            source: None,
        })?
}

/// What a method of `Assistant` does, run by the blocking method or by its async twin.
pub trait Operation {
    /// What the blocking method returns.
    type Output;
    /// What the async twin returns.
    type AsyncOutput;
    /// Runs it for the blocking method.
    fn run(self, py: Python<'_>) -> PyResult<Self::Output>;
    /// Runs it (or starts it) for the async twin.
    fn run_async(self, py: Python<'_>) -> PyResult<Self::AsyncOutput>;
}

/// Turns the result of the work into the method's Python value (with the GIL).
type Finish<R> = Box<dyn FnOnce(Python<'_>) -> PyResult<R> + Send>;

/// Blocking work on the core; the flag is set when the awaiting task is cancelled.
type BlockingWork<R> = Box<dyn FnOnce(&Core, &AtomicBool) -> PyResult<Finish<R>> + Send>;

/// Network work on the core (the chat-model server), as a future.
type FutureWork<R> =
    Box<dyn FnOnce(Arc<Core>) -> BoxFuture<'static, itassist::Result<Finish<R>>> + Send>;

enum Work<R> {
    /// Parsing, embedding, LMDB: runs without the GIL, or on the blocking pool.
    Blocking(BlockingWork<R>),
    /// Requests to the model server: a future on the tokio runtime.
    Future(FutureWork<R>),
}

/// One operation of an `Assistant`: the work on the core and how its result becomes the
/// method's return value `R`.
pub struct Op<R> {
    handle: Arc<Handle>,
    work: Work<R>,
}

fn finish<T: Send + 'static, R>(
    value: T,
    convert: impl FnOnce(Python<'_>, T) -> PyResult<R> + Send + 'static,
) -> Finish<R> {
    Box::new(move |py: Python<'_>| convert(py, value))
}

fn task_failed(e: tokio::task::JoinError) -> PyErr {
    PyRuntimeError::new_err(format!("itassist task failed: {e}"))
}

impl<R: 'static> Op<R> {
    /// Blocking core work (`work`), then `convert` with the GIL.
    pub fn blocking<T: Send + 'static>(
        handle: &Arc<Handle>,
        work: impl FnOnce(&Core) -> itassist::Result<T> + Send + 'static,
        convert: impl FnOnce(Python<'_>, T) -> PyResult<R> + Send + 'static,
    ) -> Self {
        Self::cancellable(handle, move |core, _| work(core).py(), convert)
    }

    /// Blocking work that can stop early: the flag it gets is set when the awaiting task is
    /// cancelled (never for the blocking method, where the work checks for Ctrl-C itself).
    pub fn cancellable<T: Send + 'static>(
        handle: &Arc<Handle>,
        work: impl FnOnce(&Core, &AtomicBool) -> PyResult<T> + Send + 'static,
        convert: impl FnOnce(Python<'_>, T) -> PyResult<R> + Send + 'static,
    ) -> Self {
        Op {
            handle: handle.clone(),
            work: Work::Blocking(Box::new(move |core, cancelled| {
                Ok(finish(work(core, cancelled)?, convert))
            })),
        }
    }

    /// Network work: the future `work` makes from the core, then `convert` with the GIL.
    pub fn future<T, F>(
        handle: &Arc<Handle>,
        work: impl FnOnce(Arc<Core>) -> F + Send + 'static,
        convert: impl FnOnce(Python<'_>, T) -> PyResult<R> + Send + 'static,
    ) -> Self
    where
        T: Send + 'static,
        F: Future<Output = itassist::Result<T>> + Send + 'static,
    {
        Op {
            handle: handle.clone(),
            work: Work::Future(Box::new(move |core| {
                Box::pin(async move { Ok(finish(work(core).await?, convert)) })
            })),
        }
    }
}

/// Runs blocking work with the core of this process (on this process's pool).
fn run_blocking<R>(
    handle: &Handle,
    work: BlockingWork<R>,
    cancelled: &AtomicBool,
) -> PyResult<Finish<R>> {
    in_process_pool(|| {
        let core = handle.core().py()?;
        work(&core, cancelled)
    })
}

impl<R> Operation for Op<R>
where
    R: for<'py> IntoPyObject<'py> + 'static,
{
    type Output = R;
    type AsyncOutput = Py<PyAny>;

    fn run(self, py: Python<'_>) -> PyResult<R> {
        let Op { handle, work } = self;
        let finish = match work {
            Work::Blocking(work) => {
                let never = AtomicBool::new(false);
                py.detach(|| run_blocking(&handle, work, &never))?
            }
            Work::Future(work) => runtime::wait(py, async move {
                let core = core_async(handle).await?;
                work(core).await
            })?
            .py()?,
        };
        finish(py)
    }

    fn run_async(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let Op { handle, work } = self;
        let awaitable = runtime::future_into_py(py, async move {
            let finish = match work {
                Work::Blocking(work) => {
                    let cancelled = Arc::new(AtomicBool::new(false));
                    let _cancel_on_drop = CancelOnDrop(cancelled.clone());
                    tokio::task::spawn_blocking(move || run_blocking(&handle, work, &cancelled))
                        .await
                        .map_err(task_failed)??
                }
                Work::Future(work) => {
                    let core = core_async(handle).await.py()?;
                    work(core).await.py()?
                }
            };
            // The conversion needs the GIL: take it on the blocking pool, not the event loop.
            tokio::task::spawn_blocking(move || Python::attach(|py| finish(py)?.into_py_any(py)))
                .await
                .map_err(task_failed)?
        })?;
        Ok(awaitable.unbind())
    }
}

/// Sets a flag when dropped: tells blocking work that its awaiting task was cancelled.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Emits the `#[pymethods]` block of a class whose operations come in twins.
///
/// Each operation is written once, as a function returning an [`Operation`] (an [`Op`], or
/// anything else that runs both ways), followed by the name and Python signature of its
/// async twin:
///
/// ```ignore
/// twin_methods! {
///     impl Assistant / AssistantOps {
///         /// The docstring.
///         #[pyo3(signature = (query, k = None))]
///         fn search(&self, query: String, k: Option<usize>) -> Op<Vec<Passage>> { ... }
///         #[pyo3(signature = (query, k = None))]
///         async fn _asearch;
///     }
///     methods { /* other #[pymethods], as they are */ }
/// }
/// ```
///
/// The operation's body (which returns `PyResult` of the declared type: argument conversion
/// may fail) goes into `AssistantOps`, a view of the class that derefs to it; the class gets
/// `search`, which runs the operation blocking, and `_asearch`, which returns its awaitable.
macro_rules! twin_methods {
    (
        impl $class:ident / $ops:ident {
            $(
                $(#[doc = $doc:literal])*
                #[pyo3(signature = $signature:tt)]
                fn $name:ident(&$self:ident $(, $arg:ident : $argty:ty)* $(,)?) -> $op:ty $body:block
                #[pyo3(signature = $async_signature:tt)]
                async fn $async_name:ident;
            )*
        }
        methods { $($methods:tt)* }
    ) => {
        /// The operations of the class, each written once.
        struct $ops<'a>(&'a $class);

        impl std::ops::Deref for $ops<'_> {
            type Target = $class;
            fn deref(&self) -> &$class {
                self.0
            }
        }

        impl $ops<'_> {
            $(
                #[allow(
                    clippy::extra_unused_lifetimes,
                    clippy::needless_lifetimes,
                    clippy::too_many_arguments
                )]
                fn $name<'py>(&$self $(, $arg: $argty)*) -> PyResult<$op> $body
            )*
        }

        #[pymethods]
        impl $class {
            $(
                $(#[doc = $doc])*
                #[pyo3(signature = $signature)]
                #[allow(clippy::needless_lifetimes, clippy::too_many_arguments)]
                fn $name<'py>(
                    &self,
                    py: Python<'py>
                    $(, $arg: $argty)*
                ) -> PyResult<<$op as $crate::op::Operation>::Output> {
                    $crate::op::Operation::run($ops(self).$name($($arg),*)?, py)
                }

                #[pyo3(signature = $async_signature)]
                #[allow(clippy::needless_lifetimes, clippy::too_many_arguments)]
                fn $async_name<'py>(
                    &self,
                    py: Python<'py>
                    $(, $arg: $argty)*
                ) -> PyResult<<$op as $crate::op::Operation>::AsyncOutput> {
                    $crate::op::Operation::run_async($ops(self).$name($($arg),*)?, py)
                }
            )*

            $($methods)*
        }
    };
}

pub(crate) use twin_methods;
