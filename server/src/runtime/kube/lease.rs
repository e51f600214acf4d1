//! Leader election among the servers of one namespace, through a `coordination.k8s.io` Lease:
//! only the holder ends sandboxes whose TTL or lease ran out, so several replicas never race
//! to reap the same one (a reap is idempotent anyway; the lease keeps it to one writer).

use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::api::{Api, ObjectMeta, PostParams};

/// The Lease's name in the namespace.
pub const LEASE_NAME: &str = "porter-sandbox-reaper";

/// How long a holder keeps the lease without renewing it.
const LEASE_SECONDS: i32 = 10;

/// How often the holder renews (and the others check).
const RENEW_EVERY: Duration = Duration::from_secs(2);

/// Whether this server holds the lease, kept current by the election task.
#[derive(Debug)]
pub struct Leadership {
    held: AtomicBool,
    /// Set when the server stops: the lease is given up and no longer taken.
    stopped: AtomicBool,
    leases: Api<Lease>,
    identity: String,
}

impl Leadership {
    /// Whether this server currently holds the lease.
    pub fn held(&self) -> bool {
        self.held.load(Ordering::SeqCst)
    }

    /// Gives the lease up (the server stops), so another server takes over at its next round
    /// instead of after the lease's duration.
    pub async fn release(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        if !self.held.swap(false, Ordering::SeqCst) {
            return;
        }
        let released = async {
            let Some(mut lease) = self.leases.get_opt(LEASE_NAME).await? else { return Ok(()) };
            let Some(spec) = lease.spec.as_mut() else { return Ok(()) };
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return Ok(());
            }
            spec.holder_identity = None;
            // A conflict means another server took it meanwhile: nothing to give up.
            match self.leases.replace(LEASE_NAME, &PostParams::default(), &lease).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
                Err(err) => Err(err),
            }
        };
        match tokio::time::timeout(RENEW_EVERY, released).await {
            Ok(Ok(())) => tracing::info!("gave up the reaper lease {LEASE_NAME}"),
            Ok(Err(err)) => tracing::warn!("cannot give up the reaper lease {LEASE_NAME}: {err}"),
            Err(_) => tracing::warn!("the reaper lease {LEASE_NAME} was not given up in time"),
        }
    }
}

/// Acquires and renews the lease until `leadership` is dropped or released.
async fn run(leadership: Weak<Leadership>) {
    loop {
        let Some(state) = leadership.upgrade() else { return };
        if state.stopped.load(Ordering::SeqCst) {
            return;
        }
        let held = match round(&state.leases, &state.identity).await {
            Ok(held) => held,
            Err(err) => {
                tracing::warn!("the reaper lease {LEASE_NAME}: {err}");
                false
            }
        };
        if held != state.held() {
            tracing::info!("{} the reaper lease {LEASE_NAME}", if held { "holds" } else { "lost" });
        }
        if !state.stopped.load(Ordering::SeqCst) {
            state.held.store(held, Ordering::SeqCst);
        }
        drop(state);
        tokio::time::sleep(RENEW_EVERY).await;
    }
}

/// One attempt: create, renew or take over the lease; `Ok(true)` when this server holds it.
async fn round(leases: &Api<Lease>, identity: &str) -> Result<bool, kube::Error> {
    let now = MicroTime(jiff::Timestamp::now());
    let Some(mut lease) = leases.get_opt(LEASE_NAME).await? else {
        let lease = Lease {
            metadata: ObjectMeta { name: Some(LEASE_NAME.to_owned()), ..ObjectMeta::default() },
            spec: Some(LeaseSpec {
                holder_identity: Some(identity.to_owned()),
                lease_duration_seconds: Some(LEASE_SECONDS),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match leases.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(err) => Err(err),
        };
    };
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    let ours = spec.holder_identity.as_deref() == Some(identity);
    // Given up by a server that stopped.
    let free = spec.holder_identity.as_deref().is_none_or(str::is_empty);
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    let expired = spec
        .renew_time
        .as_ref()
        .is_none_or(|renewed| now.0.as_second() >= renewed.0.as_second().saturating_add(duration));
    if !ours && !expired && !free {
        return Ok(false);
    }
    if !ours {
        spec.holder_identity = Some(identity.to_owned());
        spec.acquire_time = Some(now.clone());
        spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
    }
    spec.lease_duration_seconds = Some(LEASE_SECONDS);
    spec.renew_time = Some(now);
    // The resource version in `lease` makes this a compare-and-swap: of two servers taking an
    // expired lease at once, one gets a 409.
    match leases.replace(LEASE_NAME, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(err) => Err(err),
    }
}

/// This server's identity in the Lease: `POD_NAME` when set (the Deployment passes its pod's
/// name through the downward API, so `kubectl get lease` names the reaping replica), else its
/// host name and a random suffix.
#[must_use]
pub fn identity() -> String {
    if let Some(name) = std::env::var("POD_NAME").ok().filter(|n| !n.trim().is_empty()) {
        return name;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}-{:08x}", host.trim(), rand::random::<u32>())
}

/// Starts the election; the returned flag says whether this server leads.
pub fn start(leases: Api<Lease>) -> Arc<Leadership> {
    let leadership = Arc::new(Leadership {
        held: AtomicBool::new(false),
        stopped: AtomicBool::new(false),
        leases,
        identity: identity(),
    });
    tokio::spawn(run(Arc::downgrade(&leadership)));
    leadership
}
