//! [`SandboxGuard`]: a sandbox that is terminated when its scope ends.

use std::{ops::Deref, time::Duration};

use crate::{Result, Sandbox};

/// How long the terminate of a dropped guard may take before it is given up.
pub const DROP_TERMINATE_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`Sandbox`] that is terminated when the guard goes away. Derefs to the sandbox.
///
/// End it with [`SandboxGuard::terminate`] (which reports failures), or let it drop: the drop
/// terminates the sandbox on a best-effort basis, errors ignored, at most
/// [`DROP_TERMINATE_TIMEOUT`]. Inside a multi-threaded tokio runtime the drop waits for the
/// terminate (on a worker, with `block_in_place`); inside a current-thread runtime it can only
/// spawn it, which completes if the runtime keeps running; outside any runtime it runs it on
/// the shared runtime ([`crate::runtime`]). [`SandboxGuard::into_inner`] keeps the sandbox.
///
/// ```no_run
/// # async fn demo(porter: porter_sandbox::Porter) -> porter_sandbox::Result<()> {
/// use porter_sandbox::types::SandboxSpec;
///
/// let sandbox = porter.sandboxes().create_scoped(SandboxSpec::new("host")).await?;
/// sandbox.exec(["echo", "hi"]).await?;
/// sandbox.terminate().await?; // or let it drop
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "dropping the guard terminates the sandbox at once"]
pub struct SandboxGuard {
    sandbox: Sandbox,
    armed: bool,
}

impl SandboxGuard {
    /// Guards `sandbox`.
    pub fn new(sandbox: Sandbox) -> Self {
        Self { sandbox, armed: true }
    }

    /// Terminates the sandbox now and reports the outcome.
    pub async fn terminate(mut self) -> Result<()> {
        self.armed = false;
        self.sandbox.terminate().await
    }

    /// Disarms the guard: the sandbox keeps running and is returned.
    #[must_use]
    pub fn into_inner(mut self) -> Sandbox {
        self.armed = false;
        self.sandbox.clone()
    }
}

impl Deref for SandboxGuard {
    type Target = Sandbox;

    fn deref(&self) -> &Sandbox {
        &self.sandbox
    }
}

impl Drop for SandboxGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let sandbox = self.sandbox.clone();
        let terminate = async move {
            // Best effort: there is nobody to report a failure to.
            let _ = tokio::time::timeout(DROP_TERMINATE_TIMEOUT, sandbox.terminate()).await;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => match handle.runtime_flavor() {
                tokio::runtime::RuntimeFlavor::CurrentThread => {
                    handle.spawn(terminate);
                }
                _ => tokio::task::block_in_place(|| handle.block_on(terminate)),
            },
            Err(_) => {
                let _ = crate::runtime::block_on(terminate);
            }
        }
    }
}

impl Sandbox {
    /// This sandbox in a [`SandboxGuard`], which terminates it when dropped.
    pub fn into_guard(self) -> SandboxGuard {
        SandboxGuard::new(self)
    }
}
