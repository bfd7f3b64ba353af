//! Storage walks by cryoSPARC's rule (seed "How are project and job directory sizes
//! calculated?"): follow symlinks to files and folders, count each (device, inode) once, sum the
//! `st_size` of regular files; folders count 0, dangling links count 0, a folder already visited
//! (a symlink loop) is not walked again. Sub-folders are walked in parallel.

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
    }
}

/// Shared state of one walk.
struct WalkState<'a> {
    /// Folders visited, by (device, inode), and whether that visit was direct.
    folders: Mutex<HashMap<(u64, u64), bool>>,
    found: Mutex<Walk>,
    entries: &'a AtomicU64,
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

/// Walk `base/rel` following symlinks, reporting paths as `rel/…`. `entries` counts the
/// entries looked at (for progress). A file or a symlink to one is walked too.
pub fn walk_following(base: &Path, rel: &str, entries: &AtomicU64) -> Walk {
    let state = WalkState {
        folders: Mutex::new(HashMap::new()),
        found: Mutex::new(Walk::default()),
        entries,
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
    }
    all.sort();
    all
}
