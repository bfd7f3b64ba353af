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
    /// Entries that could not be read or followed: (path, why).
    pub skipped: Vec<(String, String)>,
    /// Files written.
    pub files: u64,
    /// Bytes of file data written.
    pub bytes: u64,
}

/// Write a tar of `dir` (entries named `<dir name>/…`) to `out`.
pub fn write_tar(
    dir: &Path,
    dereference: bool,
    out: Box<dyn FinishWrite + '_>,
    progress: &Progress,
) -> Result<TarReport, Failure> {
    let root_name = std::fs::canonicalize(dir)
        .map_err(|e| cs_cli::io_failure(&e, dir))?
        .file_name()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("archive"));
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(dereference);
    let mut report = TarReport::default();
    let mut visited = HashSet::new();
    let md = std::fs::metadata(dir).map_err(|e| cs_cli::io_failure(&e, dir))?;
    visited.insert((md.dev(), md.ino()));
    builder
        .append_dir(&root_name, dir)
        .map_err(|e| cs_cli::io_failure(&e, dir))?;
    add_folder(
        &mut builder,
        dir,
        &root_name,
        Path::new(""),
        dereference,
        &mut visited,
        &mut report,
        progress,
    )?;
    builder
        .into_inner()
        .and_then(|w| w.finish_writing())
        .map_err(|e| cs_cli::io_failure(&e, Path::new("(archive)")))?;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn add_folder<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    name: &Path,
    rel: &Path,
    dereference: bool,
    visited: &mut HashSet<(u64, u64)>,
    report: &mut TarReport,
    progress: &Progress,
) -> Result<(), Failure> {
    let mut entries: Vec<_> = match std::fs::read_dir(dir) {
        Ok(l) => l.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
        Err(e) => {
            report
                .skipped
                .push((shown(dir), cs_format::error::io_message(&e)));
            return Ok(());
        }
    };
    entries.sort();
    for entry in entries {
        let path = dir.join(&entry);
        let child_name = name.join(&entry);
        let child_rel = rel.join(&entry);
        let lmd = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                report
                    .skipped
                    .push((shown(&path), cs_format::error::io_message(&e)));
                continue;
            }
        };
        if lmd.file_type().is_symlink() && !dereference {
            let target = std::fs::read_link(&path).map_err(|e| cs_cli::io_failure(&e, &path))?;
            if !cs_cli::unpack::stays_inside(rel, &target) {
                report
                    .left_behind
                    .push((shown(&child_rel), target.display().to_string()));
            }
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&lmd);
            builder
                .append_link(&mut header, &child_name, &target)
                .map_err(|e| cs_cli::io_failure(&e, &path))?;
            continue;
        }
        let md = if lmd.file_type().is_symlink() {
            match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    report
                        .skipped
                        .push((shown(&path), cs_format::error::io_message(&e)));
                    continue;
                }
            }
        } else {
            lmd
        };
        if md.is_dir() {
            if !visited.insert((md.dev(), md.ino())) {
                report.skipped.push((
                    shown(&path),
                    "a folder already in the archive (a link loop)".into(),
                ));
                continue;
            }
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&md);
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder
                .append_data(&mut header, &child_name, std::io::empty())
                .map_err(|e| cs_cli::io_failure(&e, &path))?;
            add_folder(
                builder,
                &path,
                &child_name,
                &child_rel,
                dereference,
                visited,
                report,
                progress,
            )?;
        } else if md.is_file() {
            let file = std::fs::File::open(&path).map_err(|e| cs_cli::io_failure(&e, &path))?;
            let mut header = tar::Header::new_gnu();
            header.set_metadata(&md);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, &child_name, file)
                .map_err(|e| cs_cli::io_failure(&e, &path))?;
            report.files += 1;
            report.bytes += md.len();
            progress.counter().fetch_add(md.len(), Ordering::Relaxed);
        } else {
            report
                .skipped
                .push((shown(&path), "not a file, folder or symlink".into()));
        }
    }
    Ok(())
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
