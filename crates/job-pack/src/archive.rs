//! `job-pack tar`: a streamed tar of a folder, links dereferenced by default.

use cs_cli::{Failure, Progress};
use cs_format::project::shown;

use std::collections::HashSet;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Compression of an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip (`.tar.gz`, `.tgz`).
    Gzip,
    /// Zstandard (`.tar.zst`).
    Zstd,
}

impl Compression {
    /// The compression a file name asks for.
    pub fn from_name(name: &str) -> Compression {
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Compression::Gzip
        } else if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// What a tar run found that the user should hear about.
#[derive(Debug, Default)]
pub struct TarReport {
    /// Links (no-dereference mode) whose targets are not in the archive.
    pub left_behind: Vec<(String, String)>,
    /// Links not followed because they lead to `/` or to a folder that holds the archived
    /// folder: (link, resolved target).
    pub not_followed: Vec<(String, String)>,
    /// Files left out because they are the archive being written.
    pub left_out: Vec<String>,
    /// Links whose targets are missing, stored as links: (link, target).
    pub dangling: Vec<(String, String)>,
    /// Entries that could not be read or followed: (path, why).
    pub skipped: Vec<(String, String)>,
    /// Files written.
    pub files: u64,
    /// Bytes of file data written.
    pub bytes: u64,
}

/// Files never stored, by (device, inode): the archive being written (its temporary file, an
/// earlier archive it replaces, a redirected standard output).
pub type Exclude = HashSet<(u64, u64)>;

/// One tar run: the builder and what it has seen.
struct Tar<'a, W: Write> {
    builder: tar::Builder<W>,
    dereference: bool,
    /// The archived folder, resolved: a link to it or above it is not followed.
    root: PathBuf,
    exclude: &'a Exclude,
    visited: HashSet<(u64, u64)>,
    report: TarReport,
    progress: &'a Progress,
}

/// Write a tar of `dir` (entries named `<dir name>/…`) to `out`, leaving out the files in
/// `exclude`.
pub fn write_tar(
    dir: &Path,
    dereference: bool,
    exclude: &Exclude,
    out: Box<dyn FinishWrite + '_>,
    progress: &Progress,
) -> Result<TarReport, Failure> {
    let root = std::fs::canonicalize(dir).map_err(|e| cs_cli::io_failure(&e, dir))?;
    let root_name = root
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("archive"));
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(dereference);
    let md = std::fs::metadata(dir).map_err(|e| cs_cli::io_failure(&e, dir))?;
    builder
        .append_dir(&root_name, dir)
        .map_err(|e| cs_cli::io_failure(&e, dir))?;
    let mut run = Tar {
        builder,
        dereference,
        root,
        exclude,
        visited: HashSet::from([(md.dev(), md.ino())]),
        report: TarReport::default(),
        progress,
    };
    run.add_folder(dir, &root_name, Path::new(""))?;
    let Tar {
        builder, report, ..
    } = run;
    builder
        .into_inner()
        .and_then(|w| w.finish_writing())
        .map_err(|e| cs_cli::io_failure(&e, Path::new("(archive)")))?;
    Ok(report)
}

impl<W: Write> Tar<'_, W> {
    fn skip(&mut self, path: &Path, why: impl Into<String>) {
        self.report.skipped.push((shown(path), why.into()));
    }

    /// Store the entries of `dir` (named `name/…`, `rel/…` inside the archived folder).
    fn add_folder(&mut self, dir: &Path, name: &Path, rel: &Path) -> Result<(), Failure> {
        let mut entries: Vec<_> = match std::fs::read_dir(dir) {
            Ok(l) => l.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
            Err(e) => {
                self.skip(dir, cs_format::error::io_message(&e));
                return Ok(());
            }
        };
        entries.sort();
        for entry in entries {
            self.add_entry(&dir.join(&entry), &name.join(&entry), &rel.join(&entry))?;
        }
        Ok(())
    }

    /// Store one entry: a link as a link (no-dereference mode, or when its target is missing),
    /// else what it leads to.
    fn add_entry(&mut self, path: &Path, name: &Path, rel: &Path) -> Result<(), Failure> {
        let lmd = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                self.skip(path, cs_format::error::io_message(&e));
                return Ok(());
            }
        };
        let is_link = lmd.file_type().is_symlink();
        if is_link && !self.dereference {
            return self.add_link(path, name, rel, &lmd);
        }
        let md = if is_link {
            match std::fs::metadata(path) {
                Ok(m) => m,
                Err(_) if dangling(path) => return self.add_link(path, name, rel, &lmd),
                Err(e) => {
                    self.skip(path, cs_format::error::io_message(&e));
                    return Ok(());
                }
            }
        } else {
            lmd
        };
        if md.is_dir() {
            if is_link && self.holds_root(path) {
                return Ok(());
            }
            self.add_dir(path, name, rel, &md)
        } else if md.is_file() {
            self.add_file(path, name, &md)
        } else {
            self.skip(path, "not a file, folder or symlink");
            Ok(())
        }
    }

    /// True (and the link reported) when the folder a link at `path` leads to is `/` or holds
    /// the archived folder: following it would archive the whole machine or the folder again.
    fn holds_root(&mut self, path: &Path) -> bool {
        match std::fs::canonicalize(path) {
            Ok(target) if cs_format::project::walk::holds(&target, &self.root) => {
                let target = target.display().to_string();
                self.report.not_followed.push((shown(path), target));
                true
            }
            _ => false,
        }
    }

    fn add_link(
        &mut self,
        path: &Path,
        name: &Path,
        rel: &Path,
        lmd: &std::fs::Metadata,
    ) -> Result<(), Failure> {
        let target = std::fs::read_link(path).map_err(|e| cs_cli::io_failure(&e, path))?;
        let folder = rel.parent().unwrap_or(Path::new(""));
        if dangling(path) {
            self.report
                .dangling
                .push((shown(path), target.display().to_string()));
        } else if !cs_archive::stays_inside(folder, &target) {
            self.report
                .left_behind
                .push((shown(rel), target.display().to_string()));
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata(lmd);
        self.builder
            .append_link(&mut header, name, &target)
            .map_err(|e| cs_cli::io_failure(&e, path))
    }

    fn add_dir(
        &mut self,
        path: &Path,
        name: &Path,
        rel: &Path,
        md: &std::fs::Metadata,
    ) -> Result<(), Failure> {
        if !self.visited.insert((md.dev(), md.ino())) {
            self.skip(path, "a folder already in the archive (a link loop)");
            return Ok(());
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata(md);
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        self.builder
            .append_data(&mut header, name, std::io::empty())
            .map_err(|e| cs_cli::io_failure(&e, path))?;
        self.add_folder(path, name, rel)
    }

    fn add_file(
        &mut self,
        path: &Path,
        name: &Path,
        md: &std::fs::Metadata,
    ) -> Result<(), Failure> {
        if self.exclude.contains(&(md.dev(), md.ino())) {
            self.report.left_out.push(shown(path));
            return Ok(());
        }
        let file = std::fs::File::open(path).map_err(|e| cs_cli::io_failure(&e, path))?;
        let mut header = tar::Header::new_gnu();
        header.set_metadata(md);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder
            .append_data(&mut header, name, file)
            .map_err(|e| cs_cli::io_failure(&e, path))?;
        self.report.files += 1;
        self.report.bytes += md.len();
        self.progress
            .counter()
            .fetch_add(md.len(), Ordering::Relaxed);
        Ok(())
    }
}

/// True when `path` is a symbolic link whose target is missing.
pub fn dangling(path: &Path) -> bool {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    is_link && std::fs::metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// The first link (in the order a tar run stores entries) under `dir` whose target is missing,
/// and that target: what `tar --strict` refuses before writing anything. Links are followed
/// into folders as [`write_tar`] follows them.
pub fn first_dangling(dir: &Path, dereference: bool) -> Option<(PathBuf, PathBuf)> {
    let root = std::fs::canonicalize(dir).ok()?;
    let mut visited = HashSet::new();
    let md = std::fs::metadata(dir).ok()?;
    visited.insert((md.dev(), md.ino()));
    find_dangling(dir, dereference, &root, &mut visited)
}

fn find_dangling(
    dir: &Path,
    dereference: bool,
    root: &Path,
    visited: &mut HashSet<(u64, u64)>,
) -> Option<(PathBuf, PathBuf)> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(name);
        let Ok(lmd) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let is_link = lmd.file_type().is_symlink();
        if is_link && dangling(&path) {
            let target = std::fs::read_link(&path).unwrap_or_default();
            return Some((path, target));
        }
        if is_link && !dereference {
            continue;
        }
        let Ok(md) = std::fs::metadata(&path) else {
            continue;
        };
        let holds_root = is_link
            && std::fs::canonicalize(&path)
                .is_ok_and(|t| cs_format::project::walk::holds(&t, root));
        if md.is_dir() && !holds_root && visited.insert((md.dev(), md.ino())) {
            if let Some(found) = find_dangling(&path, dereference, root, visited) {
                return Some(found);
            }
        }
    }
    None
}

/// The files of the archive being written, so that a tree that holds the output never
/// archives its own growing temporary file (or the archive it replaces, or a standard output
/// redirected into the tree). Taken before the output is opened; [`OwnFiles::now`] is asked
/// once its temporary file exists.
#[derive(Debug, Default)]
pub struct OwnFiles {
    /// The output's folder, where its temporary file is made.
    folder: Option<PathBuf>,
    /// Temporary outputs already in that folder before this run (not ours).
    before: Exclude,
    /// The file being replaced, or standard output when it is a regular file.
    fixed: Exclude,
}

impl OwnFiles {
    /// Note what is there before writing to `target`.
    pub fn before(target: &cs_cli::Output) -> OwnFiles {
        match target {
            cs_cli::Output::File(path) => {
                let folder = cs_cli::folder_of(path);
                let fixed = std::fs::symlink_metadata(path)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| (m.dev(), m.ino()))
                    .into_iter()
                    .collect();
                OwnFiles {
                    before: temp_outputs(&folder),
                    folder: Some(folder),
                    fixed,
                }
            }
            cs_cli::Output::Stdout => OwnFiles {
                fixed: stdout_file().into_iter().collect(),
                ..OwnFiles::default()
            },
            cs_cli::Output::Special(_) => OwnFiles::default(),
        }
    }

    /// The files to leave out now: the fixed ones, and temporary outputs that appeared in the
    /// output's folder since [`OwnFiles::before`] (ours among them).
    pub fn now(&self) -> Exclude {
        let mut out = self.fixed.clone();
        if let Some(folder) = &self.folder {
            out.extend(temp_outputs(folder).difference(&self.before));
        }
        out
    }
}

/// The temporary outputs (`.csutils-*.tmp` regular files) in a folder, by (device, inode).
fn temp_outputs(folder: &Path) -> Exclude {
    let Ok(list) = std::fs::read_dir(folder) else {
        return Exclude::new();
    };
    list.filter_map(|e| e.ok())
        .filter(|e| cs_format::temp::is_temp_name(&e.file_name().to_string_lossy()))
        .filter_map(|e| std::fs::symlink_metadata(e.path()).ok())
        .filter(|m| m.is_file())
        .map(|m| (m.dev(), m.ino()))
        .collect()
}

/// Standard output's (device, inode) when it is a regular file (`> FILE`).
fn stdout_file() -> Option<(u64, u64)> {
    use std::os::fd::AsFd;
    let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
    let md = std::fs::File::from(fd).metadata().ok()?;
    md.is_file().then(|| (md.dev(), md.ino()))
}

/// Open the compressor for `compression` over `out`.
pub fn compressor<'a>(
    compression: Compression,
    out: Box<dyn Write + 'a>,
) -> Result<Box<dyn FinishWrite + 'a>, Failure> {
    Ok(match compression {
        Compression::None => Box::new(Plain(out)),
        Compression::Gzip => Box::new(flate2::write::GzEncoder::new(
            out,
            flate2::Compression::default(),
        )),
        Compression::Zstd => Box::new(
            zstd::stream::write::Encoder::new(out, 3)
                .map_err(|e| cs_cli::io_failure(&e, Path::new("(zstd)")))?,
        ),
    })
}

/// A writer that must be finished (compressors write their trailer).
pub trait FinishWrite: Write {
    /// Write any trailer and flush.
    fn finish_writing(self: Box<Self>) -> std::io::Result<()>;
}

struct Plain<'a>(Box<dyn Write + 'a>);

impl Write for Plain<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl FinishWrite for Plain<'_> {
    fn finish_writing(mut self: Box<Self>) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> FinishWrite for flate2::write::GzEncoder<W> {
    fn finish_writing(self: Box<Self>) -> std::io::Result<()> {
        (*self).finish()?.flush()
    }
}

impl<W: Write> FinishWrite for zstd::stream::write::Encoder<'_, W> {
    fn finish_writing(self: Box<Self>) -> std::io::Result<()> {
        (*self).finish()?.flush()
    }
}
