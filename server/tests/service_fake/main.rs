#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The service's behaviour over the fake runtime ([`porter_sandbox_server::runtime::fake`]),
//! through the in-process router: the lifecycle state machine, the TTL reaper, recovery after a
//! restart, snapshots, listings and exec. No root, no containers: the suite runs as any user
//! in seconds. What only real containers can prove stays in `oci_runtime.rs` and friends.

#[path = "../support/fake.rs"]
mod support;

mod exec;
mod lifecycle;
mod listing;
mod recovery;
mod snapshots;
