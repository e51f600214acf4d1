//! Registry credentials: [`ImageOptions::credentials`] first, then a Docker-style `config.json`
//! (`auths.<registry>.auth` = base64 `user:password`, or `username` + `password`).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use super::ImageError;
use super::options::{ENV_REGISTRY_AUTH, ImageOptions, normalize_registry};

/// Credentials found for a registry, and where they came from (for messages).
pub(crate) struct Found {
    /// What to send.
    pub(crate) auth: RegistryAuth,
    /// `PORTER_SANDBOX_REGISTRY_AUTH` or the config file's path.
    pub(crate) source: String,
}

/// The outcome of a lookup.
pub(crate) struct Lookup {
    /// The credentials, if any.
    pub(crate) found: Option<Found>,
    /// Where we looked, for the message when a registry wants credentials we lack.
    pub(crate) searched: String,
}

#[derive(Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// The config file to read: the configured one, or the first default location that is set.
fn config_path(options: &ImageOptions) -> Option<(PathBuf, bool)> {
    if let Some(path) = &options.auth_file {
        return Some((path.clone(), true));
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(path) = var("REGISTRY_AUTH_FILE") {
        return Some((path, false));
    }
    if let Some(dir) = var("DOCKER_CONFIG") {
        return Some((dir.join("config.json"), false));
    }
    var("HOME").map(|home| (home.join(".docker/config.json"), false))
}

/// Finds credentials for `registry` (as normalized by [`normalize_registry`]).
pub(crate) fn lookup(options: &ImageOptions, registry: &str) -> Result<Lookup, ImageError> {
    let registry = normalize_registry(registry);
    if let Some(c) = options.credentials.iter().find(|c| c.registry == registry) {
        let auth = RegistryAuth::Basic(c.username.clone(), c.password.clone());
        return Ok(Lookup {
            found: Some(Found { auth, source: ENV_REGISTRY_AUTH.to_owned() }),
            searched: ENV_REGISTRY_AUTH.to_owned(),
        });
    }
    let Some((path, explicit)) = config_path(options) else {
        return Ok(Lookup { found: None, searched: ENV_REGISTRY_AUTH.to_owned() });
    };
    let shown = path.display().to_string();
    let searched = format!("{ENV_REGISTRY_AUTH} and {shown}");
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !explicit => {
            return Ok(Lookup { found: None, searched });
        }
        Err(e) => {
            return Err(ImageError::Io(format!(
                "cannot read the registry credentials file `{shown}`: {e}; fix the path given \
                 to --registry-auth-file"
            )));
        }
    };
    let config: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| {
        ImageError::Invalid(format!(
            "the registry credentials file `{shown}` is not a Docker config.json: {e}"
        ))
    })?;
    let entry = config.auths.iter().find(|(key, _)| normalize_registry(key) == registry);
    let Some((_, entry)) = entry else {
        let helper = config
            .cred_helpers
            .iter()
            .find(|(key, _)| normalize_registry(key) == registry)
            .map(|(_, helper)| helper)
            .or(config.creds_store.as_ref());
        let searched = match helper {
            Some(helper) => format!(
                "{searched} (it delegates to the credential helper `{helper}`, which this server \
                 does not run)"
            ),
            None => searched,
        };
        return Ok(Lookup { found: None, searched });
    };
    let bad = |why: &str| {
        ImageError::Invalid(format!(
            "the credentials for {registry} in `{shown}` {why}; log in again (`docker login \
             {registry}`)"
        ))
    };
    let auth = if let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| bad("have an `auth` value that is not base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("are not UTF-8"))?;
        let (user, password) =
            text.split_once(':').ok_or_else(|| bad("have an `auth` value without a ':'"))?;
        RegistryAuth::Basic(user.to_owned(), password.to_owned())
    } else if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
        RegistryAuth::Basic(user.clone(), password.clone())
    } else if let Some(token) = entry.registrytoken.as_deref().filter(|t| !t.is_empty()) {
        RegistryAuth::Bearer(token.to_owned())
    } else {
        return Ok(Lookup { found: None, searched });
    };
    Ok(Lookup { found: Some(Found { auth, source: shown }), searched })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::options::Credential;

    fn basic(lookup: &Lookup) -> (String, String) {
        match &lookup.found.as_ref().unwrap().auth {
            RegistryAuth::Basic(u, p) => (u.clone(), p.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_docker_config_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let encoded = base64::engine::general_purpose::STANDARD.encode("alice:pw:1");
        std::fs::write(
            &path,
            serde_json::json!({
                "auths": {
                    "127.0.0.1:5000": {"auth": encoded},
                    "https://index.docker.io/v1/": {"username": "bob", "password": "hub"},
                },
                "credHelpers": {"ghcr.io": "gh"}
            })
            .to_string(),
        )
        .unwrap();
        let options = ImageOptions { auth_file: Some(path.clone()), ..ImageOptions::default() };
        let local = lookup(&options, "127.0.0.1:5000").unwrap();
        assert_eq!(basic(&local), ("alice".into(), "pw:1".into()));
        assert_eq!(local.found.as_ref().unwrap().source, path.display().to_string());
        assert_eq!(basic(&lookup(&options, "docker.io").unwrap()), ("bob".into(), "hub".into()));
        let ghcr = lookup(&options, "ghcr.io").unwrap();
        assert!(ghcr.found.is_none());
        assert!(ghcr.searched.contains("credential helper `gh`"), "{}", ghcr.searched);

        // Directly given credentials win.
        let direct = ImageOptions {
            credentials: vec![Credential {
                registry: "127.0.0.1:5000".into(),
                username: "env".into(),
                password: "e".into(),
            }],
            ..options
        };
        let found = lookup(&direct, "127.0.0.1:5000").unwrap();
        assert_eq!(basic(&found), ("env".into(), "e".into()));

        // A configured file that is missing or broken is an error, not anonymous access.
        let missing = ImageOptions {
            auth_file: Some(dir.path().join("nope.json")),
            ..ImageOptions::default()
        };
        assert!(matches!(lookup(&missing, "x.io"), Err(ImageError::Io(_))));
        std::fs::write(&path, "{").unwrap();
        let broken = ImageOptions { auth_file: Some(path), ..ImageOptions::default() };
        assert!(matches!(lookup(&broken, "x.io"), Err(ImageError::Invalid(_))));
    }
}
