//! Where the server's API keys come from: given (a file, the environment, or the command line),
//! or generated once into an owner-only file in the data directory.

use std::{
    io::Write,
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

/// Environment variable with comma-separated API keys the server accepts.
pub const ENV_SERVER_API_KEYS: &str = "PORTER_SANDBOX_SERVER_API_KEYS";

/// Environment variable naming a file of API keys (one a line).
pub const ENV_SERVER_API_KEY_FILE: &str = "PORTER_SANDBOX_SERVER_API_KEY_FILE";

/// The generated key's file inside the data directory.
pub const GENERATED_KEY_FILE: &str = "api-key";

/// How requests are authenticated.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Requests need one of these keys.
    Keys(Vec<String>),
    /// Requests need the key generated into `<data dir>/api-key` (made on first start).
    Generated,
    /// No key at all: only on loopback, only when asked for by name.
    InsecureNoAuth,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keys(keys) => write!(f, "Keys(<{} redacted>)", keys.len()),
            Self::Generated => f.write_str("Generated"),
            Self::InsecureNoAuth => f.write_str("InsecureNoAuth"),
        }
    }
}

/// The keys in force, and the file holding the generated one.
#[derive(Clone)]
pub struct ResolvedKeys {
    /// Keys requests may present (empty only with [`Auth::InsecureNoAuth`]).
    pub keys: Vec<String>,
    /// The generated key's file, when the key was generated.
    pub generated_file: Option<PathBuf>,
}

/// Checks given keys: none may be empty or contain whitespace or control characters.
///
/// # Errors
///
/// A message naming the problem and where the key came from.
pub fn validate(keys: &[String], source: &str) -> Result<(), String> {
    for key in keys {
        if key.is_empty() {
            return Err(format!(
                "an empty API key was given ({source}): every client could present it; give a \
                 real key, or leave the keys unset to have one generated"
            ));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "an API key given ({source}) contains whitespace or control characters, which \
                 an Authorization header cannot carry"
            ));
        }
    }
    Ok(())
}

/// Keys from the comma-separated [`ENV_SERVER_API_KEYS`]; `Ok(empty)` when unset or empty.
///
/// # Errors
///
/// When the variable is set but names no usable key (`" , "`).
pub fn from_env() -> Result<Vec<String>, String> {
    let Some(raw) = std::env::var(ENV_SERVER_API_KEYS).ok().filter(|v| !v.is_empty()) else {
        return Ok(Vec::new());
    };
    let keys: Vec<String> =
        raw.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect();
    if keys.is_empty() {
        return Err(format!("{ENV_SERVER_API_KEYS} is set but holds no key"));
    }
    validate(&keys, ENV_SERVER_API_KEYS)?;
    Ok(keys)
}

/// Keys from a file: one a line, blank lines and `#` comments ignored.
///
/// # Errors
///
/// When the file cannot be read or holds no key.
pub fn from_file(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the API key file {}: {e}", path.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if keys.is_empty() {
        return Err(format!("the API key file {} holds no key", path.display()));
    }
    validate(&keys, &format!("in {}", path.display()))?;
    Ok(keys)
}

/// Resolves `auth` for a server with `data_dir` (which must exist), generating the key on first
/// start.
///
/// # Errors
///
/// When the generated key cannot be read or written.
pub fn resolve(auth: &Auth, data_dir: &Path) -> Result<ResolvedKeys, String> {
    match auth {
        Auth::Keys(keys) => {
            validate(keys, "to the server")?;
            Ok(ResolvedKeys { keys: keys.clone(), generated_file: None })
        }
        Auth::InsecureNoAuth => Ok(ResolvedKeys { keys: Vec::new(), generated_file: None }),
        Auth::Generated => {
            let file = data_dir.join(GENERATED_KEY_FILE);
            let key = load_or_generate(&file)?;
            Ok(ResolvedKeys { keys: vec![key], generated_file: Some(file) })
        }
    }
}

/// The key in `file`, or a new random one written there (0600) when there is none.
fn load_or_generate(file: &Path) -> Result<String, String> {
    if let Ok(text) = std::fs::read_to_string(file) {
        let key = text.trim().to_owned();
        if !key.is_empty() && validate(std::slice::from_ref(&key), "generated").is_ok() {
            // Tighten a file whose mode was loosened by hand.
            let _ = std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600));
            return Ok(key);
        }
    }
    let key = random_key()?;
    let partial = file.with_extension("partial");
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| format!("cannot write the API key file {}: {e}", partial.display()))?;
    out.write_all(format!("{key}\n").as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(|e| format!("cannot write the API key file {}: {e}", partial.display()))?;
    std::fs::rename(&partial, file)
        .map_err(|e| format!("cannot write the API key file {}: {e}", file.display()))?;
    Ok(key)
}

/// 32 random bytes from the kernel, hex-encoded, with a recognisable prefix.
fn random_key() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("cannot read random bytes for an API key: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("psk_local_{hex}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_kept_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = resolve(&Auth::Generated, dir.path()).unwrap();
        let file = first.generated_file.clone().unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(first.keys[0].starts_with("psk_local_") && first.keys[0].len() > 70);
        let again = resolve(&Auth::Generated, dir.path()).unwrap();
        assert_eq!(first.keys, again.keys);
    }

    #[test]
    fn empty_or_blank_keys_are_refused() {
        assert!(validate(&[String::new()], "x").unwrap_err().contains("empty API key"));
        assert!(validate(&["a b".into()], "x").is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys");
        std::fs::write(&file, "# none\n\n").unwrap();
        assert!(from_file(&file).unwrap_err().contains("holds no key"));
        std::fs::write(&file, "one\n two \n").unwrap();
        assert_eq!(from_file(&file).unwrap(), vec!["one".to_owned(), "two".to_owned()]);
    }
}
