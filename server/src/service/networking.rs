//! `networking` and `egress` of a sandbox spec (spec/README.md §5) on this local server:
//! what is accepted, and the runtime network it becomes.
//!
//! - One exposed port (1024–65535) is forwarded to a free port on the host's loopback; the
//!   status reports `host: ""` (there is no public hostname: no ingress locally) and
//!   `internal_address: "127.0.0.1:<port>"`. `internal: true` changes nothing (the port is
//!   local anyway); `domains` are refused, since nothing here could serve them.
//! - `egress` omitted: unrestricted outbound access. A list: only those destinations, for any
//!   protocol. `[]` without a port: no network at all (loopback only); `[]` with a port: the
//!   port works, nothing goes out.

use porter_sandbox::types::SandboxSpec;

use super::error::{ServiceError, ServiceResult};
use crate::runtime::{Nat, NetworkMode, egress::AllowList};

/// The lowest port a sandbox may expose (below are the privileged ports).
const FIRST_PORT: i64 = 1024;
/// Most entries of an egress allow-list (each becomes a firewall element or a name the DNS
/// filter compares every query with; wildcards and CIDR ranges cover more).
pub const MAX_EGRESS_ENTRIES: usize = 256;

/// Checks `networking` and `egress`; the error names the problem and the fix.
pub(super) fn validate(spec: &SandboxSpec) -> ServiceResult<()> {
    let entries = spec.networking.as_deref().unwrap_or_default();
    if entries.len() > 1 {
        return Err(ServiceError::invalid(format!(
            "networking has {} entries, but a sandbox exposes at most one port: send a single \
             {{\"port\": ...}} entry",
            entries.len()
        )));
    }
    if let Some(entry) = entries.first() {
        let port = entry.port;
        if (1..FIRST_PORT).contains(&port) {
            return Err(ServiceError::invalid(format!(
                "networking port {port} is a privileged port (1-1023), which sandboxes cannot \
                 expose: listen on a port from {FIRST_PORT} to 65535, e.g. 8080"
            )));
        }
        if !(FIRST_PORT..=65535).contains(&port) {
            return Err(ServiceError::invalid(format!(
                "networking port {port} is not a valid port: use one from {FIRST_PORT} to 65535"
            )));
        }
        let domains = entry.domains.as_deref().unwrap_or_default();
        if !domains.is_empty() && entry.internal == Some(true) {
            return Err(ServiceError::invalid(
                "networking internal: true cannot be combined with domains (an internal port \
                 has no public hostname): drop one of them",
            ));
        }
        if !domains.is_empty() {
            return Err(ServiceError::invalid(
                "networking domains need a sandbox ingress, which this local server does not \
                 have: omit domains; the port is forwarded to the host's loopback, at the \
                 address the sandbox's status reports as internal_address",
            ));
        }
    }
    if let Some(egress) = &spec.egress {
        let count = egress.allowed_destinations.len();
        if count > MAX_EGRESS_ENTRIES {
            return Err(ServiceError::invalid(format!(
                "egress allowed_destinations has {count} entries: at most {MAX_EGRESS_ENTRIES} \
                 (cover more with wildcards such as *.example.com or CIDR ranges)"
            )));
        }
        AllowList::parse(&egress.allowed_destinations)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
    }
    Ok(())
}

/// The runtime network of a validated spec.
pub(super) fn network_mode(spec: &SandboxSpec) -> ServiceResult<NetworkMode> {
    let port = match spec.networking.as_deref().unwrap_or_default().first() {
        Some(entry) => Some(
            u16::try_from(entry.port)
                .map_err(|_| ServiceError::invalid(format!("invalid port {}", entry.port)))?,
        ),
        None => None,
    };
    let egress = spec
        .egress
        .as_ref()
        .map(|e| AllowList::parse(&e.allowed_destinations))
        .transpose()
        .map_err(|e| ServiceError::invalid(e.to_string()))?;
    Ok(match (egress, port) {
        // Nothing in or out: no network to set up at all.
        (Some(allow), None) if allow.is_empty() => NetworkMode::None,
        (egress, port) => NetworkMode::Nat(Nat { egress, port }),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use porter_sandbox::types::{SandboxDomainSpec, SandboxEgressSpec, SandboxNetworkingSpec};

    use super::*;

    fn with_port(port: i64) -> SandboxSpec {
        SandboxSpec::new("host").networking(SandboxNetworkingSpec::new(port))
    }

    #[test]
    fn ports_and_domains_are_checked() {
        assert!(validate(&with_port(8080)).is_ok());
        assert!(validate(&with_port(1024)).is_ok());
        for (port, word) in [(80, "privileged"), (1, "privileged"), (0, "valid"), (70000, "valid")]
        {
            let err = validate(&with_port(port)).unwrap_err();
            assert!(err.message.contains(word), "{port}: {}", err.message);
        }
        let mut two = with_port(8080);
        two.networking.as_mut().unwrap().push(SandboxNetworkingSpec::new(8081));
        assert!(validate(&two).unwrap_err().message.contains("2 entries"));
        let mut domains = with_port(8080);
        domains.networking.as_mut().unwrap()[0].domains = Some(vec![SandboxDomainSpec::default()]);
        assert!(validate(&domains).unwrap_err().message.contains("ingress"));
        domains.networking.as_mut().unwrap()[0].internal = Some(true);
        assert!(validate(&domains).unwrap_err().message.contains("internal"));
    }

    #[test]
    fn egress_decides_the_network() {
        let spec = |entries: &[&str]| {
            SandboxSpec::new("host").egress(SandboxEgressSpec::new(entries.iter().copied()))
        };
        assert_eq!(
            network_mode(&SandboxSpec::new("host")).unwrap(),
            NetworkMode::Nat(Nat::default())
        );
        assert_eq!(network_mode(&spec(&[])).unwrap(), NetworkMode::None);
        let offline_port = spec(&[]).networking(SandboxNetworkingSpec::new(8080));
        let NetworkMode::Nat(nat) = network_mode(&offline_port).unwrap() else { panic!() };
        assert_eq!((nat.port, nat.egress.map(|e| e.is_empty())), (Some(8080), Some(true)));
        let NetworkMode::Nat(nat) = network_mode(&spec(&["*.example.com"])).unwrap() else {
            panic!()
        };
        assert!(nat.egress.unwrap().allows_name("a.example.com"));
        let err = validate(&spec(&["https://x"])).unwrap_err();
        assert!(err.message.contains("scheme"), "{}", err.message);
        let names: Vec<String> = (0..=MAX_EGRESS_ENTRIES).map(|i| format!("h{i}.test")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        assert!(validate(&spec(&names[1..])).is_ok());
        let err = validate(&spec(&names)).unwrap_err();
        assert!(err.message.contains("at most 256"), "{}", err.message);
    }
}
