//! Settings of the image store: what to do without a registry, a Docker Hub mirror, credentials.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Environment variable with registry credentials: whitespace-separated
/// `REGISTRY=USERNAME:PASSWORD` entries (e.g. `ghcr.io=bot:ghp_x 127.0.0.1:5000=ci:pw`).
pub const ENV_REGISTRY_AUTH: &str = "PORTER_SANDBOX_REGISTRY_AUTH";

/// What a sandbox gets when the registry of its image cannot be reached at all (DNS or
/// connection failure; refusals such as 401 or 404 always fail the sandbox).
///
/// Failing is the default: a typo in an image name (`pyhton:3.12`) looks exactly like an
/// unreachable registry, and a sandbox must never run another image unless asked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OfflineImages {
    /// Run on the `host` image, with a warning in the sandbox's log and the substitution in its
    /// status (`runs_image`).
    Host,
    /// Fail the sandbox (`launch_failed`).
    #[default]
    Fail,
}

impl FromStr for OfflineImages {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host" => Ok(Self::Host),
            "fail" => Ok(Self::Fail),
            other => {
                Err(format!("`{other}` is not an offline-images policy; use `host` or `fail`"))
            }
        }
    }
}

impl fmt::Display for OfflineImages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Host => "host",
            Self::Fail => "fail",
        })
    }
}

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The registry as written in image references (`ghcr.io`, `127.0.0.1:5000`; `docker.io`
    /// for Docker Hub).
    pub registry: String,
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Parses the value of [`ENV_REGISTRY_AUTH`]; the error names the bad entry (never a password).
pub fn parse_credentials(text: &str) -> Result<Vec<Credential>, String> {
    text.split_whitespace()
        .enumerate()
        .map(|(i, entry)| {
            let bad = |why: &str| {
                format!(
                    "entry {} of {ENV_REGISTRY_AUTH} {why}; write REGISTRY=USERNAME:PASSWORD \
                     (e.g. 127.0.0.1:5000=ci:secret), entries separated by spaces",
                    i + 1
                )
            };
            let (registry, user_pass) = entry.split_once('=').ok_or_else(|| bad("has no '='"))?;
            let (username, password) =
                user_pass.split_once(':').ok_or_else(|| bad("has no ':' after the user name"))?;
            if registry.is_empty() || username.is_empty() {
                return Err(bad("has an empty registry or user name"));
            }
            Ok(Credential {
                registry: normalize_registry(registry),
                username: username.to_owned(),
                password: password.to_owned(),
            })
        })
        .collect()
}

/// `https://index.docker.io/v1/`, `registry-1.docker.io`… → `docker.io`; other names lose a
/// scheme and trailing path (the forms `docker login` writes).
pub(crate) fn normalize_registry(name: &str) -> String {
    let bare = name.trim_start_matches("https://").trim_start_matches("http://");
    let host = bare.split('/').next().unwrap_or(bare).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_owned()
        }
        _ => host,
    }
}

/// Settings of the image store.
#[derive(Debug, Clone, Default)]
pub struct ImageOptions {
    /// What to do when a registry is unreachable (default: fail the sandbox).
    pub offline: OfflineImages,
    /// A registry (`host[:port]`) that mirrors Docker Hub: Docker Hub images are pulled from it
    /// first, then from Docker Hub if the mirror fails.
    pub mirror: Option<String>,
    /// A Docker-style `config.json` with credentials. Unset: `$REGISTRY_AUTH_FILE`, else
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json` (read at every pull, so a
    /// `docker login` takes effect at once).
    pub auth_file: Option<PathBuf>,
    /// Credentials given directly (from [`ENV_REGISTRY_AUTH`]); they win over the file.
    pub credentials: Vec<Credential>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_without_echoing_passwords() {
        let parsed =
            parse_credentials(" 127.0.0.1:5000=ci:pa:ss\n https://index.docker.io/v1/=me:x ")
                .unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            (parsed[0].registry.as_str(), parsed[0].username.as_str(), parsed[0].password.as_str()),
            ("127.0.0.1:5000", "ci", "pa:ss")
        );
        assert_eq!(parsed[1].registry, "docker.io");
        assert!(!format!("{parsed:?}").contains("pa:ss"));
        assert!(parse_credentials("").unwrap().is_empty());
        let err = parse_credentials("a=b:c ghcr.io=secretvalue").unwrap_err();
        assert!(err.contains("entry 2") && !err.contains("secretvalue"), "{err}");
        assert!(parse_credentials("=u:p").is_err());
    }

    #[test]
    fn offline_policy_round_trips() {
        for policy in [OfflineImages::Host, OfflineImages::Fail] {
            assert_eq!(policy.to_string().parse::<OfflineImages>().unwrap(), policy);
        }
        assert!("maybe".parse::<OfflineImages>().unwrap_err().contains("`host` or `fail`"));
    }
}
