//! Listing and searching (spec/README.md §9): a breadth-first walk bounded by an entry budget.
//!
//! Every entry read costs one unit of the budget. A directory's children are taken in listing
//! order (directories first, then files, each by name in byte order). A subdirectory whose
//! children do not all fit in the budget left is sent unread: `truncated` without `entries`, so
//! clients list it again by itself (they follow only unread directories); the walk goes on
//! with the next queued directories, which may still fit. Only the listed directory itself can
//! be partly read (the first entries that fit, and the response's `truncated`). Queued
//! directories the walk never got to are marked `truncated` without `entries` — unless they
//! turn out to be empty, which costs nothing and is reported as complete.
//!
//! A listing descends at most [`MAX_DEPTH`] levels: deeper directories are sent unread too (a
//! sandbox can nest thousands, and JSON parsers limit nesting).
//!
//! A search keeps exactly the entries whose name contains the term (case-insensitively), the
//! directories leading to them, and the unread directories (they may hold matches: the client
//! lists them again); a matching directory keeps only its matching descendants, so its
//! `entries` may be empty in a search result even though it has children.

use std::{
    collections::{BinaryHeap, VecDeque},
    ffi::OsStr,
    io,
    os::unix::{ffi::OsStrExt, fs::MetadataExt},
    rc::Rc,
};

use porter_sandbox::types::{VolumeFileEntry, VolumeFileEntryType, VolumeFileListResponse};

use super::{
    FsError, VolumeFs, blocking,
    dir::{Dir, Missing, descend, symlink_error},
    error::io_error,
    paths::{UPLOAD_PREFIX, VolPath},
};

/// Open directory handles the walk keeps for reuse; bounds the descriptors a listing holds.
const DIR_CACHE: usize = 32;

/// Directory levels one listing descends below the listed directory; deeper directories are
/// sent unread (`truncated`, no `entries`) and listed again by themselves. Bounds the JSON's
/// nesting, which parsers limit (serde_json at 128 levels, Python's recursion at 1000 frames).
pub(crate) const MAX_DEPTH: usize = 32;

impl VolumeFs {
    /// Lists the directory at `path` breadth-first, reading at most `budget` entries (at least
    /// one), pruned to `search` matches when given. A file → `InvalidPath`; missing →
    /// `NotFound`.
    pub async fn list(
        &self,
        path: &str,
        search: Option<&str>,
        budget: usize,
    ) -> Result<VolumeFileListResponse, FsError> {
        let path = VolPath::parse(path)?;
        let term = search.map(str::to_lowercase).filter(|t| !t.is_empty());
        let root = self.root.clone();
        blocking(move || {
            let start = open_start(Dir::open_root(&root)?, &path)?;
            let walk = Walk::run(start, budget.max(1), &path)?;
            let keep = walk.keep(term.as_deref());
            let entries = walk.entries_of(0, &keep);
            let truncated = walk.nodes.iter().any(|n| n.truncated);
            Ok(VolumeFileListResponse { path: path.to_string(), entries, truncated })
        })
        .await
    }
}

/// Opens the directory to list, with messages fit for a listing request.
fn open_start(root: Dir, path: &VolPath) -> Result<Dir, FsError> {
    let Some(name) = path.name() else { return Ok(root) };
    let parent = descend(root, path, path.parts().len() - 1, Missing::Fail)?;
    match parent.lstat(name).map_err(|e| io_error(e, format_args!("looking up {path}")))? {
        None => Err(FsError::NotFound(format!("directory {path} does not exist"))),
        Some(meta) if meta.file_type().is_symlink() => Err(symlink_error(&path.to_string())),
        Some(meta) if meta.is_file() => Err(FsError::InvalidPath(format!(
            "{path} is a file, not a directory: read it through the files/content endpoint, or \
             list its parent directory"
        ))),
        Some(meta) if !meta.is_dir() => Err(FsError::InvalidPath(format!(
            "{path} is neither a file nor a directory; only directories can be listed"
        ))),
        Some(_) => parent.open_dir(name).map_err(|e| match e.raw_os_error() {
            // Swapped for a symlink or file since the lstat (a sandbox racing us).
            Some(libc::ENOTDIR | libc::ELOOP) => FsError::InvalidPath(format!(
                "{path} stopped being a directory while it was opened; list it again"
            )),
            _ => io_error(e, format_args!("opening {path}")),
        }),
    }
}

/// One entry the walk read; node 0 is the listed directory itself.
struct Node {
    parent: Option<usize>,
    name: Vec<u8>,
    is_dir: bool,
    size: u64,
    modified_micros: i64,
    /// Indices of the children read; `None` while (or if never) read.
    children: Option<Vec<usize>>,
    truncated: bool,
    /// Levels below the listed directory (0 for itself).
    depth: usize,
}

/// A child seen while reading a directory; orders directories first, then by name bytes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Child {
    is_file: bool,
    name: Vec<u8>,
}

struct Walk {
    nodes: Vec<Node>,
}

impl Walk {
    fn run(start: Dir, budget: usize, path: &VolPath) -> Result<Self, FsError> {
        let root = Node {
            parent: None,
            name: Vec::new(),
            is_dir: true,
            size: 0,
            modified_micros: 0,
            children: None,
            truncated: false,
            depth: 0,
        };
        let mut walk = Self { nodes: vec![root] };
        let mut cache = DirCache { start: Rc::new(start), open: VecDeque::new() };
        let mut queue = VecDeque::from([0]);
        let mut remaining = budget;
        while let Some(idx) = queue.pop_front() {
            let read = cache.open(&walk.nodes, idx).and_then(|dir| {
                let (kids, more) = read_children(&dir, remaining)?;
                Ok((dir, kids, more))
            });
            let (dir, kids, more) = match read {
                Ok(read) => read,
                Err(e) if idx == 0 => return Err(io_error(e, format_args!("listing {path}"))),
                // A subdirectory we cannot read (vanished, no permission) is reported as unread.
                Err(_) => {
                    walk.nodes[idx].truncated = true;
                    continue;
                }
            };
            if more && idx != 0 {
                // A subdirectory is sent whole or not at all: clients (the official SDKs
                // among them) list a truncated directory again only when it has no entries,
                // so a partly read one would silently lose the rest.
                walk.nodes[idx].truncated = true;
                continue;
            }
            remaining -= kids.len();
            let unread = kids.is_empty() && more;
            let mut children = Vec::with_capacity(kids.len());
            for kid in kids {
                // Entries removed or swapped for another kind since `read_dir` are skipped.
                let Ok(Some(meta)) = dir.lstat(OsStr::from_bytes(&kid.name)) else { continue };
                if meta.is_dir() == kid.is_file || !(meta.is_dir() || meta.is_file()) {
                    continue;
                }
                let child = walk.nodes.len();
                let depth = walk.nodes[idx].depth + 1;
                walk.nodes.push(Node {
                    parent: Some(idx),
                    name: kid.name,
                    is_dir: !kid.is_file,
                    size: if kid.is_file { meta.len() } else { 0 },
                    // Saturating: a sandbox can set any mtime, and a panic must not follow.
                    modified_micros: meta
                        .mtime()
                        .saturating_mul(1_000_000)
                        .saturating_add(meta.mtime_nsec() / 1_000),
                    children: None,
                    truncated: false,
                    depth,
                });
                if !kid.is_file && depth >= MAX_DEPTH {
                    // Too deep for one response: sent unread, listed again by itself.
                    walk.nodes[child].truncated = true;
                } else if !kid.is_file {
                    queue.push_back(child);
                }
                children.push(child);
            }
            let node = &mut walk.nodes[idx];
            node.truncated = more;
            node.children = if unread { None } else { Some(children) };
        }
        Ok(walk)
    }

    /// Which nodes a search keeps: matches and their ancestors (all of them without a term).
    fn keep(&self, term: Option<&str>) -> Vec<bool> {
        let Some(term) = term else { return vec![true; self.nodes.len()] };
        let mut keep: Vec<bool> = self
            .nodes
            .iter()
            // An unread directory may hold matches: kept, so the client lists it again.
            .map(|n| {
                (n.truncated && n.children.is_none())
                    || String::from_utf8_lossy(&n.name).to_lowercase().contains(term)
            })
            .collect();
        // Children always come after their parent, so one backward pass propagates upward.
        for idx in (1..self.nodes.len()).rev() {
            if let (true, Some(parent)) = (keep[idx], self.nodes[idx].parent) {
                keep[parent] = true;
            }
        }
        keep
    }

    fn entries_of(&self, idx: usize, keep: &[bool]) -> Vec<VolumeFileEntry> {
        let children = self.nodes[idx].children.as_deref().unwrap_or_default();
        children.iter().filter(|&&c| keep[c]).map(|&c| self.entry(c, keep)).collect()
    }

    fn entry(&self, idx: usize, keep: &[bool]) -> VolumeFileEntry {
        let node = &self.nodes[idx];
        VolumeFileEntry {
            name: String::from_utf8_lossy(&node.name).into_owned(),
            r#type: if node.is_dir {
                VolumeFileEntryType::Directory
            } else {
                VolumeFileEntryType::File
            },
            size_bytes: i64::try_from(node.size).unwrap_or(i64::MAX),
            modified_at: Some(crate::time::format_micros(node.modified_micros)),
            truncated: node.truncated.then_some(true),
            entries: node.children.as_ref().map(|_| self.entries_of(idx, keep)),
        }
    }
}

/// Reads the visible children of `dir` and keeps the first `limit` in listing order; also says
/// whether there were more. With `limit` 0 it stops at the first visible child.
fn read_children(dir: &Dir, limit: usize) -> io::Result<(Vec<Child>, bool)> {
    // A bounded max-heap keeps the `limit` smallest without holding a huge directory in memory.
    let mut best = BinaryHeap::with_capacity(limit.saturating_add(1).min(4096));
    let mut visible = 0usize;
    for entry in dir.read_dir()? {
        let entry = entry?;
        let name = entry.file_name();
        if name.as_bytes().starts_with(UPLOAD_PREFIX.as_bytes()) {
            continue;
        }
        let Ok(kind) = entry.file_type() else { continue };
        if !(kind.is_dir() || kind.is_file()) {
            continue;
        }
        visible += 1;
        if limit == 0 {
            return Ok((Vec::new(), true));
        }
        best.push(Child { is_file: kind.is_file(), name: name.as_bytes().to_vec() });
        if best.len() > limit {
            best.pop();
        }
    }
    Ok((best.into_sorted_vec(), visible > limit))
}

/// A few recently opened directories, so a walk reopens paths from the nearest open ancestor.
struct DirCache {
    start: Rc<Dir>,
    open: VecDeque<(usize, Rc<Dir>)>,
}

impl DirCache {
    fn get(&self, idx: usize) -> Option<Rc<Dir>> {
        if idx == 0 {
            return Some(Rc::clone(&self.start));
        }
        self.open.iter().find(|(i, _)| *i == idx).map(|(_, dir)| Rc::clone(dir))
    }

    fn open(&mut self, nodes: &[Node], idx: usize) -> io::Result<Rc<Dir>> {
        let mut chain = Vec::new();
        let mut at = idx;
        let mut dir = loop {
            if let Some(dir) = self.get(at) {
                break dir;
            }
            chain.push(at);
            at = nodes[at].parent.unwrap_or(0);
        };
        for &step in chain.iter().rev() {
            dir = Rc::new(dir.open_dir(OsStr::from_bytes(&nodes[step].name))?);
            if self.open.len() == DIR_CACHE {
                self.open.pop_front();
            }
            self.open.push_back((step, Rc::clone(&dir)));
        }
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use serde_json::{Value, json};

    use super::super::testutil::{TestVol, assert_invalid};
    use super::*;

    /// The listing as JSON with `modified_at` removed (it depends on the clock).
    async fn listing(vol: &TestVol, path: &str, search: Option<&str>, budget: usize) -> Value {
        let response = vol.fs.list(path, search, budget).await.unwrap();
        let mut value = serde_json::to_value(response).unwrap();
        strip_times(&mut value);
        value
    }

    fn strip_times(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("modified_at");
                map.values_mut().for_each(strip_times);
            }
            Value::Array(items) => items.iter_mut().for_each(strip_times),
            _ => {}
        }
    }

    fn file(name: &str, size: u64) -> Value {
        json!({"name": name, "type": "file", "size_bytes": size})
    }

    /// 10 entries: a/, a/x/, a/x/deep.txt, a/1.txt, a/2.txt, b/, b/3.txt, z.txt, m.txt, empty/.
    fn ten_entry_tree() -> TestVol {
        let vol = TestVol::new();
        vol.put("a/x/deep.txt", b"deep");
        vol.put("a/1.txt", b"1");
        vol.put("a/2.txt", b"22");
        vol.put("b/3.txt", b"333");
        vol.put("z.txt", b"zz");
        vol.put("m.txt", b"m");
        vol.mkdir("empty");
        vol
    }

    #[tokio::test]
    async fn a_deep_chain_is_sent_down_to_the_depth_limit_and_listed_on_from_there() {
        let vol = TestVol::new();
        // 200 nested directories (a sandbox can make thousands): one response nests at most
        // MAX_DEPTH of them, which every client's parser takes.
        let chain: Vec<String> = (0..200).map(|i| format!("d{i}")).collect();
        vol.put(&format!("{}/leaf.txt", chain.join("/")), b"x");
        let response = vol.fs.list("/", None, 100_000).await.unwrap();
        let mut level = &response.entries;
        let mut depth = 0;
        while let Some(entry) = level.first() {
            depth += 1;
            match &entry.entries {
                Some(children) => level = children,
                None => {
                    assert_eq!(entry.truncated, Some(true), "the deepest one sent is unread");
                    break;
                }
            }
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(response.truncated, "the response says something was left unread");
        // The unread directory lists on from there.
        let next = chain[..MAX_DEPTH].join("/");
        let more = vol.fs.list(&next, None, 100_000).await.unwrap();
        assert_eq!(more.entries.len(), 1);
        assert!(serde_json::from_str::<Value>(&serde_json::to_string(&response).unwrap()).is_ok());
    }

    #[tokio::test]
    async fn full_listing_orders_and_nests() {
        let vol = ten_entry_tree();
        // Hidden: upload temp files, symlinks, FIFOs.
        vol.put(".porter-upload-123", b"partial");
        std::os::unix::fs::symlink("/etc", vol.fs.root().join("link")).unwrap();
        let expected = json!({
            "path": "/",
            "truncated": false,
            "entries": [
                {"name": "a", "type": "directory", "size_bytes": 0, "entries": [
                    {"name": "x", "type": "directory", "size_bytes": 0, "entries": [
                        file("deep.txt", 4)
                    ]},
                    file("1.txt", 1),
                    file("2.txt", 2),
                ]},
                {"name": "b", "type": "directory", "size_bytes": 0, "entries": [file("3.txt", 3)]},
                {"name": "empty", "type": "directory", "size_bytes": 0, "entries": []},
                file("m.txt", 1),
                file("z.txt", 2),
            ]
        });
        assert_eq!(listing(&vol, "/", None, DEFAULT_BUDGET).await, expected);
        assert_eq!(listing(&vol, "", None, DEFAULT_BUDGET).await, expected);

        let sub = listing(&vol, "a/x/", None, DEFAULT_BUDGET).await;
        assert_eq!(
            sub,
            json!({"path": "/a/x", "truncated": false, "entries": [file("deep.txt", 4)]})
        );

        let raw = vol.fs.list("/a", None, DEFAULT_BUDGET).await.unwrap();
        let stamp = raw.entries[1].modified_at.as_deref().unwrap();
        assert_eq!(crate::time::parse_rfc3339(stamp).map(|_| stamp.len()), Some(27), "{stamp}");
    }

    const DEFAULT_BUDGET: usize = crate::volumes::DEFAULT_LIST_BUDGET;

    #[tokio::test]
    async fn budget_truncates_breadth_first() {
        let vol = ten_entry_tree();
        // Budget 3 reads the root's first three entries (a/, b/, empty/); a/ and b/ are queued
        // but never entered; empty/ is peeked at no cost and reported complete.
        let expected = json!({
            "path": "/",
            "truncated": true,
            "entries": [
                {"name": "a", "type": "directory", "size_bytes": 0, "truncated": true},
                {"name": "b", "type": "directory", "size_bytes": 0, "truncated": true},
                {"name": "empty", "type": "directory", "size_bytes": 0, "entries": []},
            ]
        });
        assert_eq!(listing(&vol, "/", None, 3).await, expected);

        // Budget 7: root (5); a/'s three children do not fit in the two left, so a/ is sent
        // unread (never partly: clients would skip the rest); b/'s one child fits.
        let expected = json!({
            "path": "/",
            "truncated": true,
            "entries": [
                {"name": "a", "type": "directory", "size_bytes": 0, "truncated": true},
                {"name": "b", "type": "directory", "size_bytes": 0, "entries": [file("3.txt", 3)]},
                {"name": "empty", "type": "directory", "size_bytes": 0, "entries": []},
                file("m.txt", 1),
                file("z.txt", 2),
            ]
        });
        assert_eq!(listing(&vol, "/", None, 7).await, expected);

        // Exactly enough budget for all ten entries: nothing truncated.
        assert_eq!(listing(&vol, "/", None, 10).await["truncated"], json!(false));
        assert_eq!(listing(&vol, "/", None, 9).await["truncated"], json!(true));
    }

    /// Walks like the SDKs' `iterdir`: takes the entries a listing carries and lists again
    /// only the directories sent truncated without entries. Returns every path seen.
    async fn walk_like_a_client(vol: &TestVol, budget: usize) -> Vec<String> {
        fn take(
            entries: &[VolumeFileEntry],
            parent: &str,
            seen: &mut Vec<String>,
            todo: &mut Vec<String>,
        ) {
            for entry in entries {
                let path = format!("{}/{}", parent.trim_end_matches('/'), entry.name);
                seen.push(path.clone());
                match &entry.entries {
                    Some(children) => take(children, &path, seen, todo),
                    None if entry.truncated == Some(true) => todo.push(path),
                    None => {}
                }
            }
        }
        let (mut seen, mut todo) = (Vec::new(), vec!["/".to_owned()]);
        while let Some(dir) = todo.pop() {
            let listing = vol.fs.list(&dir, None, budget).await.unwrap();
            take(&listing.entries, &listing.path, &mut seen, &mut todo);
        }
        seen.sort();
        seen
    }

    #[tokio::test]
    async fn a_client_following_unread_directories_sees_every_entry() {
        let vol = TestVol::new();
        for d in ["a", "b", "c"] {
            for f in 0..5 {
                vol.put(&format!("{d}/sub/f{f}"), b"x");
                vol.put(&format!("{d}/g{f}"), b"x");
            }
        }
        // 3 + 3 × (1 + 5 + 5) = 36 entries, with budgets that end inside directories (a
        // directory larger than the whole budget cannot be listed whole: the API has no offset).
        for budget in [6, 7, 10, 13] {
            let seen = walk_like_a_client(&vol, budget).await;
            assert_eq!(seen.len(), 36, "budget {budget}: {seen:?}");
        }
    }

    #[tokio::test]
    async fn directory_with_more_children_than_budget() {
        let vol = TestVol::new();
        for i in 0..6 {
            vol.put(&format!("big/f{i}"), b"x");
        }
        let value = listing(&vol, "/big", None, 4).await;
        assert_eq!(
            value,
            json!({"path": "/big", "truncated": true, "entries": [
                file("f0", 1), file("f1", 1), file("f2", 1), file("f3", 1)
            ]})
        );
        let nested = listing(&vol, "/", None, 4).await;
        assert_eq!(
            nested["entries"][0],
            json!({"name": "big", "type": "directory", "size_bytes": 0, "truncated": true})
        );
    }

    #[tokio::test]
    async fn search_prunes_to_matches_and_ancestors() {
        let vol = ten_entry_tree();
        vol.put("Deep/other.bin", b"o");
        let value = listing(&vol, "/", Some("DEEP"), DEFAULT_BUDGET).await;
        assert_eq!(
            value,
            json!({"path": "/", "truncated": false, "entries": [
                {"name": "Deep", "type": "directory", "size_bytes": 0, "entries": []},
                {"name": "a", "type": "directory", "size_bytes": 0, "entries": [
                    {"name": "x", "type": "directory", "size_bytes": 0, "entries": [
                        file("deep.txt", 4)
                    ]},
                ]},
            ]})
        );
        let none = listing(&vol, "/", Some("nothing"), DEFAULT_BUDGET).await;
        assert_eq!(none, json!({"path": "/", "truncated": false, "entries": []}));
        // An empty term is no filter.
        let all = listing(&vol, "/", Some(""), DEFAULT_BUDGET).await;
        assert_eq!(all["entries"].as_array().unwrap().len(), 6);
    }

    #[tokio::test]
    async fn errors() {
        let vol = ten_entry_tree();
        let msg = assert_invalid(vol.fs.list("/m.txt", None, 10).await);
        assert!(msg.contains("is a file"), "{msg}");
        assert!(matches!(vol.fs.list("/nope", None, 10).await, Err(FsError::NotFound(_))));
        assert!(matches!(vol.fs.list("/m.txt/x", None, 10).await, Err(FsError::NotFound(_))));
        assert_invalid(vol.fs.list("/../", None, 10).await);
    }

    #[tokio::test]
    async fn symlinks_are_not_followed() {
        let vol = TestVol::new();
        vol.put("real/f.txt", b"f");
        let root = vol.fs.root();
        std::os::unix::fs::symlink(vol.outside(), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("alias")).unwrap();
        let msg = assert_invalid(vol.fs.list("/out", None, 10).await);
        assert!(msg.contains("symbolic link"), "{msg}");
        assert_invalid(vol.fs.list("/alias", None, 10).await);
        assert_invalid(vol.fs.list("/out/", Some("canary"), 10).await);
        let value = listing(&vol, "/", Some("canary"), DEFAULT_BUDGET).await;
        assert_eq!(value["entries"], json!([]));
        vol.assert_outside_untouched();
    }

    #[tokio::test]
    async fn a_search_down_a_deep_chain_goes_on_from_each_unread_directory() {
        let vol = TestVol::new();
        let chain: Vec<String> = (0..100).map(|i| format!("d{i}")).collect();
        vol.put(&format!("{}/leaf", chain.join("/")), b"");
        // As a client does: list again from the unread directory until the match is reached.
        let mut path = "/".to_owned();
        for _ in 0..5 {
            let response = vol.fs.list(&path, Some("leaf"), DEFAULT_BUDGET).await.unwrap();
            let mut trail = Vec::new();
            let mut level = &response.entries;
            let found = loop {
                let Some(entry) = level.first() else { break false };
                if entry.name == "leaf" {
                    break true;
                }
                trail.push(entry.name.clone());
                match &entry.entries {
                    Some(children) => level = children,
                    None => break false,
                }
            };
            if found {
                assert!(!response.truncated);
                return;
            }
            assert!(response.truncated);
            assert_eq!(trail.len(), MAX_DEPTH);
            path = format!("{}/{}", path.trim_end_matches('/'), trail.join("/"));
        }
        panic!("the leaf was not reached from {path}");
    }
}
