//! Parsing and normalizing the paths clients send (spec/README.md §9): relative to the volume
//! root, leading `/` optional, trailing `/` ignored.

use std::fmt;

use super::FsError;

/// Name prefix of in-progress upload temp files; hidden from listings and refused in paths.
pub(crate) const UPLOAD_PREFIX: &str = ".porter-upload-";

/// Longest name one path component may have (Linux `NAME_MAX`).
const NAME_MAX: usize = 255;

/// A validated path inside a volume: its components, none empty, `.`, `..` or containing `/`
/// or NUL. The root has no components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VolPath {
    parts: Vec<String>,
}

impl VolPath {
    /// Parses a client path. Empty components (`//`, leading or trailing `/`) and `.` are
    /// dropped as they mean nothing on POSIX; `..`, NUL, over-long names and the reserved
    /// upload prefix are refused.
    pub(crate) fn parse(input: &str) -> Result<Self, FsError> {
        if input.contains('\0') {
            return Err(FsError::InvalidPath(format!(
                "path {input:?} contains a NUL byte: remove it"
            )));
        }
        let raw: Vec<&str> = input.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        if raw.contains(&"..") {
            return Err(dotdot_error(input, &raw));
        }
        for name in &raw {
            if name.starts_with(UPLOAD_PREFIX) {
                return Err(FsError::InvalidPath(format!(
                    "path {input:?}: names starting with {UPLOAD_PREFIX:?} are reserved for \
                     uploads in progress; choose another name"
                )));
            }
            if name.len() > NAME_MAX {
                return Err(FsError::InvalidPath(format!(
                    "path {input:?}: the name {:?}… is {} bytes long, more than the {NAME_MAX} a \
                     file name may have; use a shorter name",
                    name.chars().take(32).collect::<String>(),
                    name.len()
                )));
            }
        }
        Ok(Self { parts: raw.into_iter().map(str::to_owned).collect() })
    }

    /// The components, root first.
    pub(crate) fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The last component; `None` for the root.
    pub(crate) fn name(&self) -> Option<&str> {
        self.parts.last().map(String::as_str)
    }

    /// The `/`-rooted form of the first `depth` components (`/` for none).
    pub(crate) fn prefix(&self, depth: usize) -> String {
        let shown = &self.parts[..depth.min(self.parts.len())];
        format!("/{}", shown.join("/"))
    }

    /// Whether `self` lies strictly below `ancestor`.
    pub(crate) fn is_strictly_inside(&self, ancestor: &Self) -> bool {
        self.parts.len() > ancestor.parts.len() && self.parts.starts_with(&ancestor.parts)
    }
}

impl fmt::Display for VolPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.prefix(self.parts.len()))
    }
}

/// Explains a `..` path and suggests the path it most likely meant, resolved lexically.
fn dotdot_error(input: &str, raw: &[&str]) -> FsError {
    let mut resolved: Vec<&str> = Vec::new();
    let mut escapes = false;
    for part in raw {
        if *part == ".." {
            escapes |= resolved.pop().is_none();
        } else {
            resolved.push(part);
        }
    }
    let suggestion = format!("/{}", resolved.join("/"));
    if escapes {
        FsError::InvalidPath(format!(
            "path {input:?} leaves the volume: \"..\" is not allowed; use a path inside the \
             volume such as {suggestion:?}"
        ))
    } else {
        FsError::InvalidPath(format!(
            "path {input:?} contains \"..\", which volume paths do not allow; write it without \
             \"..\" as {suggestion:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parts(input: &str) -> Vec<String> {
        VolPath::parse(input).unwrap().parts().to_vec()
    }

    fn invalid(input: &str) -> String {
        match VolPath::parse(input) {
            Err(FsError::InvalidPath(msg)) => msg,
            other => panic!("{input:?}: expected InvalidPath, got {other:?}"),
        }
    }

    #[test]
    fn normalizes() {
        assert!(parts("").is_empty());
        assert!(parts("/").is_empty());
        assert!(parts("//./").is_empty());
        assert_eq!(parts("checkpoints/"), ["checkpoints"]);
        assert_eq!(parts("/a//b/./c/"), ["a", "b", "c"]);
        assert_eq!(parts("a\\b"), ["a\\b"]);
        assert_eq!(parts("...").len(), 1);
        assert_eq!(VolPath::parse("a/b/").unwrap().to_string(), "/a/b");
        assert_eq!(VolPath::parse("").unwrap().to_string(), "/");
        assert_eq!(VolPath::parse("a/b/c").unwrap().prefix(2), "/a/b");
    }

    #[test]
    fn refuses_bad_paths() {
        let msg = invalid("../x");
        assert!(msg.contains("leaves the volume") && msg.contains("\"/x\""), "{msg}");
        assert!(invalid("/a/../../x").contains("leaves the volume"));
        let msg = invalid("/a/../b");
        assert!(msg.contains("without") && msg.contains("\"/b\""), "{msg}");
        assert!(invalid("a\0b").contains("NUL"));
        assert!(invalid("/d/.porter-upload-abc").contains("reserved"));
        assert!(invalid(&"n".repeat(256)).contains("shorter"));
        assert_eq!(parts(&"n".repeat(255)).len(), 1);
    }

    #[test]
    fn inside() {
        let a = VolPath::parse("/a").unwrap();
        let ab = VolPath::parse("/a/b").unwrap();
        let abc = VolPath::parse("/ab").unwrap();
        assert!(ab.is_strictly_inside(&a));
        assert!(!a.is_strictly_inside(&a));
        assert!(!abc.is_strictly_inside(&a));
        assert!(a.is_strictly_inside(&VolPath::parse("/").unwrap()));
    }
}
