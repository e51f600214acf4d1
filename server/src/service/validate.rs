//! Limits on what a sandbox spec may carry, checked before anything is recorded: tags, the
//! environment, the command line, and volume mount paths (normalised before the deny-list, so
//! `//proc`, `/./usr` or `/usr/` are the system directories they name).
//!
//! Tags follow the spirit of Kubernetes labels without their character set: a key of 1–63
//! characters without `=` (the listing filter `tag=key=value` splits at the first `=`), a value
//! of at most 256 characters, neither with control characters (NUL included), at most 64 tags.

use porter_sandbox::types::SandboxSpec;

use super::error::{ServiceError, ServiceResult};

/// Most tags on one sandbox.
pub const MAX_TAGS: usize = 64;
/// Longest tag key, in characters.
pub const MAX_TAG_KEY: usize = 63;
/// Longest tag value, in characters.
pub const MAX_TAG_VALUE: usize = 256;
/// Most environment variables on one sandbox.
pub const MAX_ENV_VARS: usize = 1024;
/// Most bytes of environment (`KEY=value` and a NUL per variable), well under what `execve`
/// takes (about 2 MiB for arguments and environment together).
pub const MAX_ENV_BYTES: usize = 512 << 10;
/// Most bytes of `command` and `args` together (each with its NUL).
pub const MAX_ARGV_BYTES: usize = 512 << 10;
/// Longest image reference (a registry reference, or a path no longer than Linux's `PATH_MAX`).
pub const MAX_IMAGE_REF: usize = 4096;
/// Directories a volume may not be mounted on (nor under).
const SYSTEM_DIRS: [&str; 4] = ["/proc", "/sys", "/dev", "/usr"];

/// Checks every limit of this module on `spec`; the error names the field and the offender.
pub(super) fn spec(spec: &SandboxSpec) -> ServiceResult<()> {
    if spec.image.len() > MAX_IMAGE_REF || has_control(&spec.image) {
        return Err(ServiceError::invalid(format!(
            "image is {} bytes or has control characters: give a registry reference or a path \
             of at most {MAX_IMAGE_REF} bytes",
            spec.image.len()
        )));
    }
    tags(spec)?;
    env(spec)?;
    argv(spec)?;
    for path in spec.volume_mounts.iter().flatten().map(|(path, _)| path) {
        mount_path(path)?;
    }
    Ok(())
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

fn tags(spec: &SandboxSpec) -> ServiceResult<()> {
    let tags: Vec<(&String, &String)> = spec.tags.iter().flatten().collect();
    if tags.len() > MAX_TAGS {
        return Err(ServiceError::invalid(format!(
            "tags has {} entries: at most {MAX_TAGS} are allowed",
            tags.len()
        )));
    }
    for (key, value) in tags {
        let problem = if key.is_empty() {
            "has an empty key"
        } else if key.chars().count() > MAX_TAG_KEY {
            "has a key longer than 63 characters"
        } else if key.contains('=') {
            "has '=' in its key"
        } else if has_control(key) || has_control(value) {
            "contains control characters (NUL, newlines…)"
        } else if value.chars().count() > MAX_TAG_VALUE {
            "has a value longer than 256 characters"
        } else {
            continue;
        };
        let key: String = key.chars().take(80).collect();
        return Err(ServiceError::invalid(format!(
            "tag {key:?} {problem}: tag keys are 1-{MAX_TAG_KEY} characters without '=', values \
             at most {MAX_TAG_VALUE} characters, neither with control characters"
        )));
    }
    Ok(())
}

fn env(spec: &SandboxSpec) -> ServiceResult<()> {
    let env: Vec<(&String, &String)> = spec.env.iter().flatten().collect();
    if env.len() > MAX_ENV_VARS {
        return Err(ServiceError::invalid(format!(
            "env has {} variables: at most {MAX_ENV_VARS}",
            env.len()
        )));
    }
    let bytes: usize = env.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if bytes > MAX_ENV_BYTES {
        return Err(ServiceError::invalid(format!(
            "env is {bytes} bytes: at most {MAX_ENV_BYTES} (pass large data as a file instead)"
        )));
    }
    Ok(())
}

fn argv(spec: &SandboxSpec) -> ServiceResult<()> {
    let all = spec.command.iter().flatten().chain(spec.args.iter().flatten());
    let mut bytes = 0;
    for arg in all {
        if arg.contains('\0') {
            return Err(ServiceError::invalid("command and args may not contain NUL characters"));
        }
        bytes += arg.len() + 1;
    }
    if bytes > MAX_ARGV_BYTES {
        return Err(ServiceError::invalid(format!(
            "command and args are {bytes} bytes: at most {MAX_ARGV_BYTES} (pass large data as a \
             file instead)"
        )));
    }
    Ok(())
}

/// `path` without empty and `.` components; `None` when it is relative or has `..`.
fn normalise(path: &str) -> Option<String> {
    let rest = path.strip_prefix('/')?;
    let mut parts = Vec::new();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            part => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Checks a volume mount path after normalising it.
fn mount_path(path: &str) -> ServiceResult<()> {
    let clean = normalise(path).filter(|p| !path.contains('\0') && !has_control(p));
    let denied = clean.as_deref().is_none_or(|clean| {
        clean == "/"
            || SYSTEM_DIRS.iter().any(|d| clean == *d || clean.starts_with(&format!("{d}/")))
    });
    if denied {
        return Err(ServiceError::invalid(format!(
            "volume mount {path:?} is invalid: use an absolute path such as /data, not /, a system \
             directory (/proc, /sys, /dev, /usr, however written) or one with '..'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn mount_paths_are_normalised_before_the_deny_list() {
        for good in ["/data", "/data/", "//data", "/./data", "/home/user/work", "/usr2", "/devices"]
        {
            assert!(mount_path(good).is_ok(), "{good}");
        }
        for bad in [
            "/",
            "//",
            "/.",
            "data",
            "",
            "//usr",
            "//proc",
            "/./usr",
            "/usr/",
            "/a/../usr",
            "/..",
            "/data/..",
            "/proc/self",
            "///sys//kernel",
            "/dev/.",
            "/da\0ta",
            "/da\nta",
        ] {
            let err = mount_path(bad).unwrap_err().message;
            assert!(err.contains("volume mount") && err.contains("/data"), "{bad}: {err}");
        }
        assert_eq!(normalise("//a/./b//").as_deref(), Some("/a/b"));
        assert_eq!(normalise("/a/../b"), None);
    }

    fn with_tags(tags: &[(&str, &str)]) -> SandboxSpec {
        let mut spec = SandboxSpec::new("host");
        spec.tags = Some(tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        spec
    }

    #[test]
    fn tags_have_bounded_clean_keys_and_values() {
        let key63 = "k".repeat(63);
        let value256 = "é".repeat(256);
        assert!(tags(&with_tags(&[("team", "a b/c:d"), (&key63, &value256), ("x", "")])).is_ok());
        let many: Vec<(String, String)> =
            (0..=MAX_TAGS).map(|i| (format!("k{i}"), String::new())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(tags(&with_tags(&many)).unwrap_err().message.contains("at most 64"));
        let long_value = "v".repeat(257);
        for (key, value, word) in [
            ("", "x", "empty key"),
            (&*"k".repeat(64), "x", "longer than 63"),
            ("a=b", "x", "'='"),
            ("nul\0", "x", "control"),
            ("ok", "line\nbreak", "control"),
            ("ok", "nul\0", "control"),
            ("ok", &long_value, "longer than 256"),
        ] {
            let err = tags(&with_tags(&[(key, value)])).unwrap_err().message;
            assert!(err.contains(word) && err.starts_with("tag \""), "{key:?}: {err}");
        }
    }

    #[test]
    fn image_references_are_bounded() {
        let mut spec = SandboxSpec::new("python:3.12-slim");
        assert!(super::spec(&spec).is_ok());
        spec.image = format!("oci-layout:/{}", "a".repeat(MAX_IMAGE_REF));
        assert!(super::spec(&spec).unwrap_err().message.contains("image is"));
        spec.image = "host\n".to_owned();
        assert!(super::spec(&spec).unwrap_err().message.contains("control"));
    }

    #[test]
    fn env_and_argv_are_bounded() {
        let mut spec = SandboxSpec::new("host");
        spec.env = Some((0..MAX_ENV_VARS).map(|i| (format!("V{i}"), "x".into())).collect());
        assert!(env(&spec).is_ok());
        spec.env.as_mut().unwrap().insert("ONE_MORE".into(), String::new());
        assert!(env(&spec).unwrap_err().message.contains("at most 1024"));
        spec.env = Some([("BIG".to_owned(), "x".repeat(MAX_ENV_BYTES))].into_iter().collect());
        assert!(env(&spec).unwrap_err().message.contains("bytes"));
        spec.command = Some(vec!["sh".into(), "-c".into(), "x".repeat(MAX_ARGV_BYTES)]);
        assert!(argv(&spec).unwrap_err().message.contains("bytes"));
        spec.command = Some(vec!["echo".into(), "a\0b".into()]);
        assert!(argv(&spec).unwrap_err().message.contains("NUL"));
        spec.command = Some(vec!["echo".into(), "fine".into()]);
        spec.args = Some(vec!["x".repeat(1000)]);
        assert!(argv(&spec).is_ok());
    }
}
