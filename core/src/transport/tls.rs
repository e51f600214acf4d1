//! TLS set-up: rustls with the ring provider and the platform's certificate verifier.

use std::sync::Arc;

use rustls_platform_verifier::BuilderVerifierExt;

use crate::{Error, ErrorKind, Result};

/// A rustls client configuration that trusts the operating system's roots (so corporate CAs work)
/// without touching the process-wide default crypto provider.
pub(super) fn client_config() -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_error = |e: rustls::Error| {
        Error::new(ErrorKind::Config, format!("cannot set up TLS: {e}")).with_source(e)
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_platform_verifier()
        .map_err(tls_error)?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
