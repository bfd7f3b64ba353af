//! csutils' named temporary files and folders (`.csutils-*.tmp`), made beside what they will
//! become. Each is held under an exclusive `flock` by its maker for as long as it lives and is
//! listed in a process-wide registry, so that a signal handler can remove this process's ones
//! ([`remove_live`]) and a later run in the same folder can remove those whose maker is gone
//! ([`sweep`]: a lock it can take) — never a live one of a concurrent run.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;

/// How every csutils temporary name starts.
pub const PREFIX: &str = ".csutils-";
/// How every csutils temporary name ends.
pub const SUFFIX: &str = ".tmp";

/// Temporary files and folders this process has made (some may be gone: renamed or removed).
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn register(path: &Path) {
    if let Ok(mut live) = LIVE.lock() {
        live.push(path.to_path_buf());
    }
}

/// Attempts at making a temporary file or folder that a concurrent sweep took between its
/// creation and its lock.
const ATTEMPTS: usize = 8;

/// Whether the open file `held` is still what `path` names (same device and inode): a
/// concurrent run may have removed or replaced it since it was opened.
pub fn still_named(held: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (held.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Lock a just-made temporary entry through `handle`: true when it is ours (locked and still
/// named by `path`), or when the file system has no flock (then sweep cannot lock it either).
fn lock_new(handle: &File, path: &Path) -> bool {
    match handle.try_lock() {
        Ok(()) => still_named(handle, path),
        Err(std::fs::TryLockError::WouldBlock) => false,
        Err(std::fs::TryLockError::Error(_)) => true,
    }
}

fn taken_by_a_sweep(dir: &Path) -> io::Error {
    io::Error::other(format!(
        "{}: temporary files keep being removed by another run",
        dir.display()
    ))
}

/// How our temporary entries are named.
fn named() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(PREFIX).suffix(SUFFIX);
    b
}

/// A new temporary file in `dir`, locked and registered; stale ones in `dir` are swept first.
pub fn file_in(dir: &Path) -> io::Result<NamedTempFile> {
    sweep(dir);
    for _ in 0..ATTEMPTS {
        let tmp = named().tempfile_in(dir)?;
        register(tmp.path());
        if lock_new(tmp.as_file(), tmp.path()) {
            return Ok(tmp);
        }
    }
    Err(taken_by_a_sweep(dir))
}

/// A temporary folder, locked (`flock` on the folder itself) for as long as it is held.
#[derive(Debug)]
pub struct TempDir {
    dir: tempfile::TempDir,
    _lock: File,
}

impl TempDir {
    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Rename the folder to `dest` (it is then no longer removed on drop), holding its lock
    /// until it no longer has a temporary name.
    pub fn rename_to(self, dest: &Path) -> io::Result<()> {
        let TempDir { dir, _lock } = self;
        let path = dir.keep();
        let renamed = std::fs::rename(&path, dest);
        if renamed.is_err() {
            let _ = std::fs::remove_dir_all(&path);
        }
        renamed
    }
}

/// A new temporary folder in `dir`, locked and registered; stale ones in `dir` are swept first.
pub fn dir_in(dir: &Path) -> io::Result<TempDir> {
    sweep(dir);
    for _ in 0..ATTEMPTS {
        let tmp = named().tempdir_in(dir)?;
        register(tmp.path());
        let lock = File::open(tmp.path())?;
        if lock_new(&lock, tmp.path()) {
            return Ok(TempDir {
                dir: tmp,
                _lock: lock,
            });
        }
    }
    Err(taken_by_a_sweep(dir))
}

/// Whether a name is one of ours.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with(PREFIX) && name.ends_with(SUFFIX)
}

/// Remove, in `dir`, the temporary files and folders whose maker is gone (their lock can be
/// taken). Best effort: what cannot be read or removed is left.
pub fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if !is_temp_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        // Only files and folders: opening a FIFO or a device could block or act.
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_file() && !kind.is_dir() {
            continue;
        }
        let Ok(handle) = File::open(&path) else {
            continue;
        };
        if handle.try_lock().is_err() {
            continue; // live, or no flock here
        }
        let _ = if kind.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Remove every temporary file and folder this process made that still exists (for a signal
/// handler about to exit).
pub fn remove_live() {
    let paths = match LIVE.lock() {
        Ok(live) => live.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for path in paths {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&path);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&path);
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    // remove_live acts on the whole process (other tests' files too): the end-to-end signal
    // tests check it; here only that ours are registered for it.
    #[test]
    fn sweep_removes_only_what_no_live_maker_holds() {
        let d = tempfile::tempdir().unwrap();
        let live = file_in(d.path()).unwrap();
        let live_dir = dir_in(d.path()).unwrap();
        // A file and a folder of ours nobody holds a lock on, as a killed run leaves them.
        let stale = d.path().join(format!("{PREFIX}stale{SUFFIX}"));
        std::fs::write(&stale, b"x").unwrap();
        let stale_dir = d.path().join(format!("{PREFIX}dir{SUFFIX}"));
        std::fs::create_dir(&stale_dir).unwrap();
        std::fs::write(stale_dir.join("inside"), b"x").unwrap();
        let other = d.path().join("particles.cs");
        std::fs::write(&other, b"x").unwrap();
        sweep(d.path());
        let left = names(d.path());
        assert!(!stale.exists() && !stale_dir.exists(), "{left:?}");
        assert!(live.path().exists() && live_dir.path().is_dir(), "{left:?}");
        let live_paths = LIVE.lock().unwrap().clone();
        assert!(live_paths.contains(&live.path().to_path_buf()));
        assert!(live_paths.contains(&live_dir.path().to_path_buf()));
    }
}
