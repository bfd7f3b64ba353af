//! Where a tool writes (`-o PATH`): standard output (`-`, `/dev/stdout`), a special file that
//! already exists (a device, FIFO or socket, or a symlink to one: opened and written in place as
//! the shell's `>` would, never replaced), or a regular file (written to a temporary file in the
//! same folder, synced and renamed into place; an existing file or symlink is replaced only with
//! `--force`, and a symlink's target is never written).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use cs_format::{Error, Place};

use crate::{Failure, Outcome};

/// Where a tool's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// An existing device, FIFO or socket (or a symlink to one), written in place.
    Special(PathBuf),
    /// A regular file, written atomically.
    File(PathBuf),
}

/// The names that mean standard output.
fn names_stdout(arg: &str) -> bool {
    matches!(arg, "-" | "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1")
}

impl Output {
    /// `-o OUT` of a tool that writes binary data (a `.cs` file, an archive, Parquet): as
    /// [`Output::text`], but standard output is refused when it is a terminal.
    pub fn binary(out: &str, force: bool) -> Result<Output, Failure> {
        use std::io::IsTerminal;
        let target = Output::text(out, force)?;
        if target == Output::Stdout && io::stdout().is_terminal() {
            return Err(Failure::Usage(
                "refusing to write binary output to a terminal: give -o FILE, or redirect \
                 standard output (> FILE or | ...)"
                    .into(),
            ));
        }
        Ok(target)
    }

    /// `-o OUT` of a tool that writes text, checked before any work: not a folder, and an
    /// existing regular file or symlink only with `force`.
    pub fn text(out: &str, force: bool) -> Result<Output, Failure> {
        if names_stdout(out) {
            return Ok(Output::Stdout);
        }
        let path = PathBuf::from(out);
        let refuse = |what: &str| -> Result<Output, Failure> {
            Err(Error::in_whole_file(what).in_file(out).into())
        };
        let here = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Output::File(path)),
            Err(e) => return Err(crate::io_failure(&e, &path)),
            Ok(m) => m,
        };
        let is_link = here.file_type().is_symlink();
        // What the path leads to; a dangling symlink leads nowhere.
        let there = if is_link {
            std::fs::metadata(&path).ok()
        } else {
            Some(here)
        };
        match there {
            Some(m) if m.is_dir() => refuse("is a directory"),
            Some(m) if !m.is_file() => Ok(Output::Special(path)),
            // /dev/stderr, /proc/self/fd/N and the like lead to whatever the stream is: written
            // when that is a device or FIFO, never replaced.
            _ if path.starts_with("/dev") || path.starts_with("/proc") => {
                refuse("is under /dev or /proc and is not a device or FIFO: not replaced")
            }
            _ if force => Ok(Output::File(path)),
            Some(_) if is_link => refuse(
                "is a symlink to an existing file (use --force to replace the link; its target \
                 is never written)",
            ),
            None => refuse("is a dangling symlink (use --force to replace it)"),
            Some(_) => refuse("exists (use --force to replace it)"),
        }
    }

    /// A folder for temporary files on the way: the output's own, or the system's.
    pub fn spool_dir(&self) -> PathBuf {
        match self {
            Output::File(path) => folder_of(path),
            Output::Stdout | Output::Special(_) => std::env::temp_dir(),
        }
    }

    /// How messages name the output.
    pub fn display_name(&self) -> String {
        match self {
            Output::Stdout => "(stdout)".into(),
            Output::Special(p) | Output::File(p) => p.display().to_string(),
        }
    }

    /// Write the output with `write`. A failed write is reported as the output's, whichever
    /// layer (a compressor, an archive or Parquet writer) passes it on.
    pub fn write(
        &self,
        force: bool,
        write: impl FnOnce(&mut (dyn Write + Send)) -> cs_format::Result<()>,
    ) -> Outcome {
        let name = self.display_name();
        let tmp = match self {
            Output::File(path) => Some(
                cs_format::temp::file_in(&folder_of(path))
                    .map_err(|e| crate::io_failure(&e, path))?,
            ),
            Output::Stdout | Output::Special(_) => None,
        };
        let sink: Box<dyn Write + Send + '_> = match (self, &tmp) {
            (_, Some(tmp)) => Box::new(tmp.as_file()),
            (Output::Special(path), None) => Box::new(open_special(path)?),
            _ => Box::new(io::stdout()),
        };
        let mut w = io::BufWriter::with_capacity(
            1 << 20,
            Watched {
                sink,
                failure: None,
            },
        );
        let done = write(&mut w).and_then(|()| w.flush().map_err(|e| Error::io(&e, Place::File)));
        if let Err(e) = done {
            return Err(match &w.get_ref().failure {
                Some(failure) => in_output(failure, &name),
                None => e.in_file(&name).into(),
            });
        }
        drop(w);
        match (self, tmp) {
            (Output::File(path), Some(tmp)) => persist(tmp, path, force),
            _ => Ok(()),
        }
    }

    /// Deliver a complete temporary file made in [`Output::spool_dir`]: renamed into place, or
    /// copied to standard output or the special file.
    pub fn deliver(&self, force: bool, tmp: tempfile::NamedTempFile) -> Outcome {
        match self {
            Output::File(path) => persist(tmp, path, force),
            Output::Stdout | Output::Special(_) => {
                let mut file = tmp.reopen()?;
                self.write(force, |w| {
                    io::copy(&mut file, w).map_err(|e| Error::io(&e, Place::File))?;
                    Ok(())
                })
            }
        }
    }
}

impl Output {
    /// Open the output for streaming: buffered standard output, the special file opened in
    /// place, or a temporary file in the file's folder that [`OutputWriter::finish`] syncs and
    /// renames into place (dropped unfinished, it is removed: nothing half-written is left).
    /// Write errors name the output.
    pub fn open(&self, force: bool) -> Result<OutputWriter, Failure> {
        let (sink, tmp): (Box<dyn Write>, _) = match self {
            Output::Stdout => (Box::new(io::stdout().lock()), None),
            Output::Special(path) => (Box::new(open_special(path)?), None),
            Output::File(path) => {
                let tmp = cs_format::temp::file_in(&folder_of(path))
                    .map_err(|e| crate::io_failure(&e, path))?;
                let file = tmp
                    .as_file()
                    .try_clone()
                    .map_err(|e| crate::io_failure(&e, path))?;
                (Box::new(file), Some((tmp, path.clone(), force)))
            }
        };
        Ok(OutputWriter {
            sink: io::BufWriter::with_capacity(1 << 17, sink),
            name: self.display_name(),
            tmp,
        })
    }
}

/// An output open for writing ([`Output::open`]). Its write errors carry the output's name,
/// which [`Failure`]'s conversion from `io::Error` puts in the message.
pub struct OutputWriter {
    sink: io::BufWriter<Box<dyn Write>>,
    name: String,
    /// For a regular file: the temporary file, where it goes, and `--force`.
    tmp: Option<(tempfile::NamedTempFile, PathBuf, bool)>,
}

impl OutputWriter {
    /// Flush everything; for a regular file, sync the temporary file and rename it into place
    /// (an existing file is replaced only with `--force`).
    pub fn finish(mut self) -> Outcome {
        self.flush()?;
        match self.tmp.take() {
            Some((tmp, path, force)) => persist(tmp, &path, force),
            None => Ok(()),
        }
    }
}

impl Write for OutputWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf).map_err(|e| on_output(e, &self.name))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.sink
            .write_all(buf)
            .map_err(|e| on_output(e, &self.name))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush().map_err(|e| on_output(e, &self.name))
    }
}

/// An I/O error on the output named `name`: see [`named_output_error`].
#[derive(Debug)]
struct OnOutput {
    name: String,
    error: io::Error,
}

impl std::fmt::Display for OnOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for OnOutput {}

/// `e`, of the same kind, carrying the output's name (kept once).
fn on_output(e: io::Error, name: &str) -> io::Error {
    if named_output_error(&e).is_some() {
        return e;
    }
    let kind = e.kind();
    io::Error::new(
        kind,
        OnOutput {
            name: name.to_string(),
            error: e,
        },
    )
}

/// The output's name and the underlying error of an error made by an [`OutputWriter`].
pub(crate) fn named_output_error(e: &io::Error) -> Option<(&str, &io::Error)> {
    let on = e.get_ref()?.downcast_ref::<OnOutput>()?;
    Some((&on.name, &on.error))
}

/// A writer that remembers its first failure.
struct Watched<'a> {
    sink: Box<dyn Write + Send + 'a>,
    failure: Option<io::Error>,
}

impl Write for Watched<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.write(buf).inspect_err(|e| self.remember(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush().inspect_err(|e| self.remember(e))
    }
}

impl Watched<'_> {
    fn remember(&mut self, e: &io::Error) {
        if self.failure.is_none() && e.kind() != io::ErrorKind::Interrupted {
            self.failure = Some(io::Error::new(e.kind(), e.to_string()));
        }
    }
}

/// An I/O error on the output named `name`; a broken pipe stays a quiet broken pipe.
fn in_output(e: &io::Error, name: &str) -> Failure {
    Error::io(e, Place::File).in_file(name).into()
}

/// Open an existing special file for writing as the shell's `>` does, without creating or
/// truncating anything; refused if it turned into a regular file since it was checked.
fn open_special(path: &Path) -> Result<std::fs::File, Failure> {
    let name = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| in_output(&e, &name))?;
    let meta = file.metadata().map_err(|e| in_output(&e, &name))?;
    if meta.is_file() {
        return Err(Error::in_whole_file(
            "became a regular file while it was opened; nothing written",
        )
        .in_file(&name)
        .into());
    }
    Ok(file)
}

/// Write through a temporary file in `path`'s folder, synced, then renamed to `path` (refusing
/// to replace an existing file unless `force`, and never replacing anything that is not a
/// regular file or a symlink). Nothing is left behind on failure.
pub fn write_atomically(
    path: &Path,
    force: bool,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> cs_format::Result<()>,
) -> Outcome {
    let name = path.display().to_string();
    let tmp =
        cs_format::temp::file_in(&folder_of(path)).map_err(|e| crate::io_failure(&e, path))?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        write(&mut w).map_err(|e| e.in_file(&name))?;
        w.flush().map_err(|e| in_output(&e, &name))?;
    }
    persist(tmp, path, force)
}

/// Give a complete temporary file (made in `path`'s folder) its final mode, sync it and rename
/// it to `path`, refusing to replace an existing file unless `force`, and refusing always to
/// replace a folder, device, FIFO or socket.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path, force: bool) -> Outcome {
    let name = path.display().to_string();
    let existing = std::fs::symlink_metadata(path).ok();
    // What is there, or what a link there leads to, must be a regular file (or nothing).
    let leads_to = std::fs::metadata(path).ok();
    let special = |m: &std::fs::Metadata| !m.is_file() && !m.file_type().is_symlink();
    if existing.as_ref().is_some_and(special) || leads_to.as_ref().is_some_and(|m| !m.is_file()) {
        return Err(Error::in_whole_file("is not a regular file; not replaced")
            .in_file(&name)
            .into());
    }
    // A temporary file is created private (0600); give the result the mode of the file it
    // replaces, or the usual 0644 of a new file, so that the lab can read it.
    let mode = match existing.filter(|m| m.is_file()) {
        Some(m) => m.permissions(),
        None => std::os::unix::fs::PermissionsExt::from_mode(0o644),
    };
    tmp.as_file()
        .set_permissions(mode)
        .map_err(|e| in_output(&e, &name))?;
    tmp.as_file().sync_all().map_err(|e| in_output(&e, &name))?;
    let done = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    done.map(|_| ()).map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::in_whole_file("exists (use --force to replace it)")
                .in_file(&name)
                .into()
        } else {
            in_output(&e.error, &name)
        }
    })
}

/// The folder holding a file: its parent, or `.` for a bare file name.
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn resolve(path: &Path, force: bool) -> Result<Output, Failure> {
        Output::text(path.to_str().unwrap(), force)
    }

    #[test]
    fn stdout_names_and_absent_files() {
        for name in ["-", "/dev/stdout", "/dev/fd/1"] {
            assert_eq!(Output::text(name, false).unwrap(), Output::Stdout);
        }
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("new.cs");
        assert_eq!(resolve(&p, false).unwrap(), Output::File(p));
    }

    #[test]
    fn a_fifo_or_a_link_to_one_is_special_with_or_without_force() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("pipe");
        mkfifo(&fifo);
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        for force in [false, true] {
            assert_eq!(
                resolve(&fifo, force).unwrap(),
                Output::Special(fifo.clone())
            );
            assert_eq!(
                resolve(&link, force).unwrap(),
                Output::Special(link.clone())
            );
        }
    }

    #[test]
    fn an_existing_file_or_link_needs_force_and_a_folder_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("a.cs");
        std::fs::write(&file, b"x").unwrap();
        let link = d.path().join("l.cs");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let dangling = d.path().join("gone.cs");
        std::os::unix::fs::symlink(d.path().join("nothing"), &dangling).unwrap();
        for p in [&file, &link, &dangling] {
            assert!(matches!(resolve(p, false), Err(Failure::Data(_))), "{p:?}");
            assert_eq!(resolve(p, true).unwrap(), Output::File(p.clone()));
        }
        assert!(matches!(resolve(d.path(), true), Err(Failure::Data(_))));
    }

    #[test]
    fn persist_never_replaces_a_fifo_even_with_force() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("job.json");
        mkfifo(&fifo);
        let r = write_atomically(&fifo, true, |w| {
            w.write_all(b"{}").map_err(|e| Error::io(&e, Place::File))
        });
        assert!(matches!(r, Err(Failure::Data(_))));
        let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&kind));
        assert_eq!(
            std::fs::read_dir(d.path()).unwrap().count(),
            1,
            "no temp left"
        );
    }
}
