//! Manual redirect following: which answers are followed, where to, and with which credentials.

/// Redirect statuses that carry a `Location` and are followed keeping method and body.
pub(super) fn is_followed(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The `Location` of a redirect, resolved against the URL that answered.
pub(super) fn location(response: &reqwest::Response, current: &url::Url) -> Option<url::Url> {
    let value = response.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
    current.join(value).ok()
}

/// Whether two URLs share scheme, host and port (the credential is only sent to its own origin).
pub(super) fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.origin() == b.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn origin_compares_scheme_host_and_port() {
        assert!(same_origin(&url("http://h:8080/a"), &url("http://h:8080/b?x=1")));
        assert!(same_origin(&url("https://h/a"), &url("https://h:443/b")));
        assert!(!same_origin(&url("http://h:8080/a"), &url("http://h:8081/a")));
        assert!(!same_origin(&url("http://h/a"), &url("https://h/a")));
        assert!(!same_origin(&url("http://h/a"), &url("http://g/a")));
    }

    #[test]
    fn followed_statuses() {
        for s in [301, 302, 303, 307, 308] {
            assert!(is_followed(s));
        }
        for s in [300, 304, 305, 306, 200, 400] {
            assert!(!is_followed(s));
        }
    }
}
