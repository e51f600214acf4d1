//! Parsing and syntax checks of image references.

use std::path::PathBuf;

/// Longest reference accepted; real ones are far shorter.
const MAX_REFERENCE_LEN: usize = 4096;

/// What to tell users who typed something we cannot parse.
pub(crate) const REFERENCE_HINT: &str = "use `host`, `oci-layout:/absolute/path[:tag]`, \
     `docker-archive:/absolute/path.tar` or a registry reference such as `python:3.12-slim`";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageRef {
    /// The host's own userland.
    Host,
    /// An OCI image layout directory and an optional tag.
    OciLayout {
        /// The layout directory (absolute).
        path: PathBuf,
        /// The tag (`org.opencontainers.image.ref.name`), if one was given.
        tag: Option<String>,
    },
    /// A `docker save` tarball.
    DockerArchive {
        /// The tarball (absolute).
        path: PathBuf,
    },
    /// A reference to an image in a registry.
    Registry(String),
}

/// Parses `reference`; the error says what is wrong and what to write instead.
pub(crate) fn parse(reference: &str) -> Result<ImageRef, String> {
    if reference.trim().is_empty() {
        return Err(format!("the image reference is empty; {REFERENCE_HINT}"));
    }
    if reference.len() > MAX_REFERENCE_LEN {
        return Err(format!(
            "the image reference is {} bytes long (at most {MAX_REFERENCE_LEN}); {REFERENCE_HINT}",
            reference.len()
        ));
    }
    if reference.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the image reference `{}` contains whitespace or control characters; {REFERENCE_HINT}",
            reference.escape_debug()
        ));
    }
    if reference == "host" {
        return Ok(ImageRef::Host);
    }
    if let Some(rest) = reference.strip_prefix("oci-layout:") {
        // A tag follows the last ':' unless what follows it is still part of a path.
        let (path, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        let path = absolute_path(reference, path)?;
        if tag == Some("") {
            return Err(format!(
                "`{reference}` ends with an empty tag; write `oci-layout:{}:TAG` or leave out \
                 the ':' to use `latest`",
                path.display()
            ));
        }
        return Ok(ImageRef::OciLayout { path, tag: tag.map(str::to_owned) });
    }
    if let Some(rest) = reference.strip_prefix("docker-archive:") {
        return Ok(ImageRef::DockerArchive { path: absolute_path(reference, rest)? });
    }
    check_registry_reference(reference)?;
    Ok(ImageRef::Registry(reference.to_owned()))
}

/// The path part of a local reference: non-empty and absolute (the server's working directory
/// means nothing to a client).
fn absolute_path(reference: &str, path: &str) -> Result<PathBuf, String> {
    if path.is_empty() {
        return Err(format!("`{reference}` names no path; {REFERENCE_HINT}"));
    }
    if !path.starts_with('/') {
        return Err(format!(
            "`{reference}` uses the relative path `{path}`; image paths must be absolute \
             (they are read by the server), e.g. `/srv/images/{path}`"
        ));
    }
    Ok(PathBuf::from(path))
}

/// Checks the grammar of `[domain[:port]/]path[:tag][@algorithm:hex]`.
fn check_registry_reference(reference: &str) -> Result<(), String> {
    let bad = |why: String| {
        Err(format!("`{reference}` is not a valid image reference: {why}; {REFERENCE_HINT}"))
    };
    // `oci:/x`, `docker://x`, `dir:/x`: transports we do not know.
    if let Some((scheme, rest)) = reference.split_once(':') {
        let scheme_like = !scheme.is_empty()
            && scheme.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if scheme_like && rest.starts_with('/') {
            return bad(format!("the transport `{scheme}:` is not supported"));
        }
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    if let Some(Err(why)) = digest.map(check_digest) {
        return bad(why);
    }
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(tag) = tag.filter(|tag| !is_valid_tag(tag)) {
        return bad(format!(
            "the tag `{tag}` must be 1-128 letters, digits, '_', '.' or '-' and not start with \
             '.' or '-'"
        ));
    }
    if name.is_empty() || name.len() > 255 {
        return bad("the repository name must be 1-255 characters".to_owned());
    }
    let components: Vec<&str> = name.split('/').collect();
    let mut path = &components[..];
    if components.len() > 1 {
        let first = components[0];
        let looks_like_domain = first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.bytes().any(|b| b.is_ascii_uppercase());
        if looks_like_domain {
            if !is_valid_domain(first) {
                return bad(format!("`{first}` is not a valid registry host[:port]"));
            }
            path = &components[1..];
        }
    }
    for component in path {
        if !is_valid_path_component(component) {
            return bad(format!(
                "`{component}` must be lowercase letters and digits, optionally separated by \
                 '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

/// `algorithm:hex`; for sha256 exactly 64 lowercase hex digits.
fn check_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!("the digest `{digest}` must look like `sha256:<64 hex digits>`"));
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-')
        });
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    if !algorithm_ok || !hex_ok || (algorithm == "sha256" && !super::digest::is_sha256_hex(hex)) {
        return Err(format!("the digest `{digest}` must look like `sha256:<64 hex digits>`"));
    }
    Ok(())
}

fn is_valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn is_valid_domain(domain: &str) -> bool {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let port_ok = port.is_none_or(|port| {
        !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
    });
    if !port_ok {
        return false;
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_valid_path_component(component: &str) -> bool {
    let b = component.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: `.`, `_`, `__` or any number of `-`.
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}
