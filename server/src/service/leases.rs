//! Leases (an extension of the local Porter server): a sandbox created with `lease_seconds`
//! is terminated (`termination_reason: lease_expired`) when nobody renews its lease
//! (`POST /v1/sandbox/{id}/lease`) for that long — its client died without terminating it.
//!
//! Renewal times are kept in memory only: after a server restart every lease starts afresh
//! (from the start of the server), so clients get a full lease to renew again.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use porter_sandbox::types::StatusResponseTerminationReason;

use super::Service;
use super::error::{ServiceError, ServiceResult};
use crate::{store::SandboxRow, time::now_micros};

/// When each leased sandbox's lease was last renewed.
#[derive(Debug)]
pub(crate) struct Leases {
    renewed: Mutex<HashMap<String, i64>>,
    /// When this server started, Unix microseconds: no lease ends before a full lease after it.
    started_at: i64,
}

impl Default for Leases {
    fn default() -> Self {
        Self { renewed: Mutex::new(HashMap::new()), started_at: now_micros() }
    }
}

impl Leases {
    fn renewed(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.renewed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the lease of `row` (if it has one) ran out at `now`.
    fn expired(&self, row: &SandboxRow, now: i64) -> bool {
        let Some(lease) = row.spec.lease_seconds else { return false };
        let from = *self
            .renewed()
            .entry(row.id.clone())
            .or_insert_with(|| row.created_at.max(self.started_at));
        now >= from.saturating_add(lease.saturating_mul(1_000_000))
    }
}

impl Service {
    /// `POST /v1/sandbox/{id}/lease`: renews the lease of a live leased sandbox.
    pub fn renew_lease(&self, id: &str) -> ServiceResult<()> {
        let row = self.sandbox_row(id)?;
        if row.phase.is_terminal() {
            return Err(ServiceError::conflict(format!(
                "sandbox {id} is already {}: only a live sandbox's lease can be renewed",
                row.phase
            )));
        }
        if row.spec.lease_seconds.is_none() {
            return Err(ServiceError::conflict(format!(
                "sandbox {id} has no lease: it was created without lease_seconds"
            )));
        }
        self.leases.renewed().insert(id.to_owned(), now_micros());
        Ok(())
    }

    /// Terminates the live sandboxes among `live` whose leases ran out; forgets the renewal
    /// times of sandboxes that are no longer live. Called by the reaper.
    pub(super) async fn expire_leases(&self, live: &[SandboxRow]) {
        let now = now_micros();
        self.leases.renewed().retain(|id, _| live.iter().any(|row| &row.id == id));
        let mut expired = Vec::new();
        for row in live {
            if self.leases.expired(row, now) {
                expired.push(row.id.clone());
            }
        }
        self.end_all(&expired, StatusResponseTerminationReason::LeaseExpired).await;
    }
}
