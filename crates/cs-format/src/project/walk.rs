//! Storage walks by cryoSPARC's rule (seed "How are project and job directory sizes
//! calculated?"): follow symlinks to files and folders, count each (device, inode) once, sum the
//! `st_size` of regular files; folders count 0, dangling links count 0, a folder already visited
//! (a symlink loop) is not walked again. Sub-folders are walked in parallel.
//!
//! One link is never followed: a link to `/` or to any folder that holds the walk's base (the
//! project), which would walk the whole machine or the project again. Such links are listed in
//! [`Walk::not_followed`]; links to anything else (raw data under some `/data` folder, another
//! project) are followed as cryoSPARC follows them.

use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A regular file a walk counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSeen {
    /// `st_size`.
    pub size: u64,
    /// `st_nlink`.
    pub links: u64,
    /// Reached on a path with no symlink on it (so `tar` without `-h` stores it).
    pub direct: bool,
}

/// What a walk found.
#[derive(Debug, Default, Clone)]
pub struct Walk {
    /// Each regular file once, by (device, inode).
    pub files: HashMap<(u64, u64), FileSeen>,
    /// Symlinks that lead nowhere (missing target, or a loop of links), by path.
    pub dangling: Vec<String>,
    /// Entries that could not be read: (path, why).
    pub unreadable: Vec<(String, String)>,
    /// Links not followed because they lead to `/` or to a folder that holds the walk's base:
    /// (path, resolved target).
    pub not_followed: Vec<(String, String)>,
}

impl Walk {
    /// Sum of the sizes of the files counted.
    pub fn bytes(&self) -> u64 {
        self.files.values().map(|f| f.size).sum()
    }

    /// Sum of the sizes of the files reached without following a symlink.
    pub fn bytes_direct(&self) -> u64 {
        self.files
            .values()
            .filter(|f| f.direct)
            .map(|f| f.size)
            .sum()
    }

    /// Add another walk's findings (a file counts once; reached directly by either is direct).
    pub fn merge(&mut self, other: Walk) {
        for (key, seen) in other.files {
            self.add(key, seen);
        }
        self.dangling.extend(other.dangling);
        self.unreadable.extend(other.unreadable);
        self.not_followed.extend(other.not_followed);
    }

    fn add(&mut self, key: (u64, u64), seen: FileSeen) {
        self.files
            .entry(key)
            .and_modify(|f| f.direct |= seen.direct)
            .or_insert(seen);
    }

    /// Sort the path lists (parallel walks find them in any order).
    fn sort(&mut self) {
        self.dangling.sort();
        self.unreadable.sort();
        self.not_followed.sort();
    }
}

/// Shared state of one walk.
struct WalkState<'a> {
    /// Folders visited, by (device, inode), and whether that visit was direct.
    folders: Mutex<HashMap<(u64, u64), bool>>,
    found: Mutex<Walk>,
    entries: &'a AtomicU64,
    /// The walk's base, resolved: a link to it or to a folder above it is not followed.
    base: Option<PathBuf>,
}

/// `raw_os_error` values that mean a symlink leads nowhere (Linux: ENOTDIR, ELOOP).
const ENOTDIR: i32 = 20;
const ELOOP: i32 = 40;

fn leads_nowhere(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
        || matches!(e.raw_os_error(), Some(ENOTDIR) | Some(ELOOP))
}

fn why(e: &std::io::Error) -> String {
    crate::error::io_message(e)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

fn key(md: &Metadata) -> (u64, u64) {
    (md.dev(), md.ino())
}

/// True when a walk of `base` must not follow a link that leads to `target` (both resolved):
/// `target` is `/` or a folder that holds `base` (or `base` itself).
pub fn holds(target: &Path, base: &Path) -> bool {
    base.starts_with(target)
}

/// Walk `base/rel` following symlinks, reporting paths as `rel/…`. `entries` counts the
/// entries looked at (for progress). A file or a symlink to one is walked too. A link to `/` or
/// to a folder that holds `base` is not followed ([`Walk::not_followed`]).
pub fn walk_following(base: &Path, rel: &str, entries: &AtomicU64) -> Walk {
    let state = WalkState {
        folders: Mutex::new(HashMap::new()),
        found: Mutex::new(Walk::default()),
        entries,
        base: std::fs::canonicalize(base).ok(),
    };
    let root = if rel.is_empty() {
        base.to_path_buf()
    } else {
        base.join(rel)
    };
    let direct = std::fs::symlink_metadata(&root)
        .map(|m| !m.file_type().is_symlink())
        .unwrap_or(false);
    match std::fs::metadata(&root) {
        Ok(md) if md.is_dir() && !rel.is_empty() && state.holds_base(&root, rel) => {}
        Ok(md) if md.is_dir() => {
            if state.enter(&md, direct) {
                visit(&state, root, rel.to_string(), direct);
            }
        }
        Ok(md) => state.count_file(&md, direct),
        Err(e) if direct => state.unreadable(rel, &e),
        Err(e) if leads_nowhere(&e) => state.dangling(rel),
        Err(e) => state.unreadable(rel, &e),
    }
    let mut walk = state.found.into_inner().unwrap_or_else(|p| p.into_inner());
    walk.sort();
    walk
}

impl WalkState<'_> {
    /// Mark a folder visited; false when it was already visited at least as directly.
    fn enter(&self, md: &Metadata, direct: bool) -> bool {
        let mut folders = self.folders.lock().unwrap_or_else(|p| p.into_inner());
        match folders.get(&key(md)) {
            Some(&was_direct) if was_direct || !direct => false,
            _ => {
                folders.insert(key(md), direct);
                true
            }
        }
    }

    fn count_file(&self, md: &Metadata, direct: bool) {
        if md.is_file() {
            let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
            found.add(
                key(md),
                FileSeen {
                    size: md.len(),
                    links: md.nlink(),
                    direct,
                },
            );
        }
    }

    /// True (and the link listed as not followed) when the folder at `path` is `/` or holds
    /// the walk's base.
    fn holds_base(&self, path: &Path, rel: &str) -> bool {
        let Some(base) = &self.base else {
            return false;
        };
        match std::fs::canonicalize(path) {
            Ok(target) if holds(&target, base) => {
                let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
                let target = target.display().to_string();
                found.not_followed.push((rel.to_string(), target));
                true
            }
            _ => false,
        }
    }

    fn dangling(&self, rel: &str) {
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        found.dangling.push(rel.to_string());
    }

    fn unreadable(&self, rel: &str, e: &std::io::Error) {
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        found.unreadable.push((rel.to_string(), why(e)));
    }
}

/// Walk one folder: count its files, then its sub-folders in parallel.
fn visit(state: &WalkState, dir: PathBuf, rel: String, direct: bool) {
    let listing = match std::fs::read_dir(&dir) {
        Ok(l) => l,
        Err(e) => return state.unreadable(&rel, &e),
    };
    let mut local = Walk::default();
    let mut folders = Vec::new();
    for entry in listing {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                local.unreadable.push((rel.clone(), why(&e)));
                continue;
            }
        };
        state.entries.fetch_add(1, Ordering::Relaxed);
        let child = join(&rel, &entry.file_name().to_string_lossy());
        let path = entry.path();
        let is_link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
        let md = if is_link {
            std::fs::metadata(&path)
        } else {
            entry.metadata()
        };
        let md = match md {
            Ok(md) => md,
            Err(e) if is_link && leads_nowhere(&e) => {
                local.dangling.push(child);
                continue;
            }
            Err(e) => {
                local.unreadable.push((child, why(&e)));
                continue;
            }
        };
        let child_direct = direct && !is_link;
        if md.is_dir() && is_link && state.holds_base(&path, &child) {
            continue;
        }
        if md.is_dir() {
            folders.push((md, path, child, child_direct));
        } else if md.is_file() {
            local.add(
                key(&md),
                FileSeen {
                    size: md.len(),
                    links: md.nlink(),
                    direct: child_direct,
                },
            );
        }
    }
    {
        let mut found = state.found.lock().unwrap_or_else(|p| p.into_inner());
        found.merge(local);
    }
    let folders: Vec<_> = folders
        .into_iter()
        .filter(|(md, _, _, d)| state.enter(md, *d))
        .collect();
    folders.into_par_iter().for_each(|(_, path, child, d)| {
        visit(state, path, child, d);
    });
}

/// Walk several roots (`rel` paths under `base`) in parallel, each on its own.
pub fn walk_each(base: &Path, rels: &[String], entries: &AtomicU64) -> Vec<Walk> {
    rels.par_iter()
        .map(|rel| walk_following(base, rel, entries))
        .collect()
}

/// The entries of a folder, by name (sorted), for walking each on its own.
pub fn entry_names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Distinct files of several walks together: the union, each inode once.
pub fn union(walks: &[&Walk]) -> Walk {
    let mut all = Walk::default();
    let mut seen_dangling = HashSet::new();
    for w in walks {
        for (&k, &f) in &w.files {
            all.add(k, f);
        }
        for d in &w.dangling {
            if seen_dangling.insert(d.clone()) {
                all.dangling.push(d.clone());
            }
        }
        all.unreadable.extend(w.unreadable.iter().cloned());
        for n in &w.not_followed {
            if !all.not_followed.contains(n) {
                all.not_followed.push(n.clone());
            }
        }
    }
    all.sort();
    all
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_to_the_root_or_above_the_base_are_listed_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("P");
        std::fs::create_dir_all(base.join("J1/sub")).unwrap();
        std::fs::write(base.join("J1/a"), b"12345").unwrap();
        std::fs::create_dir(d.path().join("raw")).unwrap();
        std::fs::write(d.path().join("raw/movie"), b"123").unwrap();
        symlink("/", base.join("J1/root")).unwrap();
        symlink("../../..", base.join("J1/sub/above")).unwrap();
        symlink("../..", base.join("J1/sub/base")).unwrap();
        symlink("../../raw", base.join("J1/raw")).unwrap();
        symlink("..", base.join("up")).unwrap();
        let n = AtomicU64::new(0);
        let w = walk_following(&base, "J1", &n);
        assert_eq!(w.bytes(), 8, "raw data out of the tree still counts");
        let links: Vec<&str> = w.not_followed.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(links, ["J1/root", "J1/sub/above", "J1/sub/base"]);
        assert_eq!(w.not_followed[0].1, "/");
        let w = walk_following(&base, "up", &n);
        assert_eq!(w.files.len(), 0);
        assert_eq!(w.not_followed.len(), 1);
        let w = walk_following(&base, "", &n);
        assert_eq!(w.bytes(), 8);
        assert_eq!(w.not_followed.len(), 4);
    }
}
