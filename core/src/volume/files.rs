//! Volume file paths and listed entries.

use crate::types::{VolumeFileEntry, VolumeFileEntryType};

/// The form every volume handle sends: leading and trailing `/` stripped, then one `/` prefixed;
/// the root is `/`. Inner `//` and `..` are left for the server to judge.
#[must_use]
pub fn normalize_path(path: &str) -> String {
    format!("/{}", path.trim_matches('/'))
}

/// The path of `name` inside the directory `parent` (`/` + `a` → `/a`, `/a` + `b` → `/a/b`).
#[must_use]
pub fn join_path(parent: &str, name: &str) -> String {
    if parent == "/" { format!("/{name}") } else { format!("{parent}/{name}") }
}

/// A file or directory of a volume listing, with its full path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeFile {
    /// Name within its directory.
    pub name: String,
    /// Full `/`-rooted path, e.g. `/models/config.json`.
    pub path: String,
    /// File or directory.
    pub kind: VolumeFileEntryType,
    /// Size in bytes (0 for directories).
    pub size_bytes: i64,
    /// Modification time, RFC 3339 (always on files).
    pub modified_at: Option<String>,
    /// A directory whose contents the listing did not fully read.
    pub truncated: bool,
}

impl VolumeFile {
    /// The entry `entry` listed inside `parent_path`.
    #[must_use]
    pub fn new(entry: &VolumeFileEntry, parent_path: &str) -> Self {
        Self {
            name: entry.name.clone(),
            path: join_path(parent_path, &entry.name),
            kind: entry.r#type.clone(),
            size_bytes: entry.size_bytes,
            modified_at: entry.modified_at.clone(),
            truncated: entry.truncated.unwrap_or(false),
        }
    }

    /// Whether this is a directory.
    #[must_use]
    pub fn is_directory(&self) -> bool {
        self.kind == VolumeFileEntryType::Directory
    }

    /// Whether this is a regular file.
    #[must_use]
    pub fn is_file(&self) -> bool {
        self.kind == VolumeFileEntryType::File
    }
}

impl std::fmt::Display for VolumeFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, {} bytes)", self.path, self.kind, self.size_bytes)
    }
}

/// Every entry of a (pruned) listing tree whose name contains `query`, case-insensitively, in
/// depth-first pre-order. Truncated directories are not followed.
pub(crate) fn search_tree(
    entries: &[VolumeFileEntry],
    parent: &str,
    query: &str,
) -> Vec<VolumeFile> {
    let needle = query.to_lowercase();
    let mut found = Vec::new();
    let mut stack: Vec<(&VolumeFileEntry, String)> =
        entries.iter().rev().map(|e| (e, parent.to_owned())).collect();
    while let Some((entry, parent)) = stack.pop() {
        let file = VolumeFile::new(entry, &parent);
        if let Some(children) = &entry.entries {
            stack.extend(children.iter().rev().map(|c| (c, file.path.clone())));
        }
        if entry.name.to_lowercase().contains(&needle) {
            found.push(file);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        for (input, expected) in [
            ("", "/"),
            ("/", "/"),
            ("///", "/"),
            ("checkpoints/", "/checkpoints"),
            ("/a/b/", "/a/b"),
            ("a//b", "/a//b"),
            ("../x", "/../x"),
        ] {
            assert_eq!(normalize_path(input), expected, "{input:?}");
        }
    }

    #[test]
    fn joining() {
        assert_eq!(join_path("/", "a"), "/a");
        assert_eq!(join_path("/a", "b"), "/a/b");
    }
}
