//! The blocking mirror of the lifecycle helpers: waiting, get-or-create, leases and
//! [`SandboxGuard`].

use std::{ops::Deref, time::Duration};

use super::{Sandbox, Sandboxes, run};
use crate::{
    Result,
    types::{CreateResponse, SandboxSpec, StatusResponse},
};

impl Sandboxes {
    /// See [`crate::Sandboxes::get_or_create`].
    pub fn get_or_create(&self, name: &str, spec: impl Into<SandboxSpec>) -> Result<Sandbox> {
        run(self.inner.get_or_create(name, spec)).map(Sandbox::from)
    }

    /// See [`crate::Sandboxes::create_response`].
    pub fn create_response(&self, spec: impl Into<SandboxSpec>) -> Result<CreateResponse> {
        run(self.inner.create_response(spec))
    }

    /// See [`crate::Sandboxes::create_scoped`].
    pub fn create_scoped(&self, spec: impl Into<SandboxSpec>) -> Result<SandboxGuard> {
        Ok(self.create(spec)?.into_guard())
    }
}

impl Sandbox {
    /// See [`crate::Sandbox::wait_until_running`].
    pub fn wait_until_running(&self, timeout: Option<Duration>) -> Result<StatusResponse> {
        run(self.inner.wait_until_running(timeout))
    }

    /// See [`crate::Sandbox::wait_until_running_with`].
    pub fn wait_until_running_with(
        &self,
        timeout: Option<Duration>,
        observe: impl FnMut(&StatusResponse) + Send,
    ) -> Result<StatusResponse> {
        run(self.inner.wait_until_running_with(timeout, observe))
    }

    /// See [`crate::Sandbox::wait`].
    pub fn wait(&self, timeout: Option<Duration>) -> Result<i32> {
        run(self.inner.wait(timeout))
    }

    /// See [`crate::Sandbox::poll`].
    pub fn poll(&self) -> Result<Option<i32>> {
        run(self.inner.poll())
    }

    /// See [`crate::Sandbox::renew_lease`].
    pub fn renew_lease(&self) -> Result<()> {
        run(self.inner.renew_lease())
    }

    /// This sandbox in a [`SandboxGuard`], which terminates it when dropped.
    pub fn into_guard(self) -> SandboxGuard {
        SandboxGuard { sandbox: self, armed: true }
    }

    /// The async handle of this sandbox.
    #[must_use]
    pub fn as_async(&self) -> &crate::Sandbox {
        &self.inner
    }
}

/// Blocking [`crate::SandboxGuard`]: terminates its sandbox when dropped (waiting for the
/// terminate, at most [`crate::DROP_TERMINATE_TIMEOUT`], errors ignored). Derefs to the
/// sandbox.
#[derive(Debug)]
#[must_use = "dropping the guard terminates the sandbox at once"]
pub struct SandboxGuard {
    sandbox: Sandbox,
    armed: bool,
}

impl SandboxGuard {
    /// Guards `sandbox`.
    pub fn new(sandbox: Sandbox) -> Self {
        sandbox.into_guard()
    }

    /// Terminates the sandbox now and reports the outcome.
    pub fn terminate(mut self) -> Result<()> {
        self.armed = false;
        self.sandbox.terminate()
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
        if self.armed {
            // The async guard's drop knows how to terminate from any context.
            drop(self.sandbox.inner.clone().into_guard());
        }
    }
}
