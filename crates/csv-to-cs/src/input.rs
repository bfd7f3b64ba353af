//! The input opened (a file, or standard input), and the fields its rows are converted to when
//! no template or schema declares them: a header of known fields decides them, else a first
//! pass over the input infers them and the input is read again.

use crate::fields::check_inferred;
use crate::rows::{self, InputKind, RowReader};
use cs_cli::Failure;
use cs_format::{Error, Field, Place};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tempfile::NamedTempFile;

/// The CSV or JSON-lines input.
pub struct Input {
    /// The file; None for standard input.
    pub path: Option<PathBuf>,
    /// Its name in messages ("-" for standard input).
    pub name: String,
    /// Its syntax (None: detected).
    pub kind: Option<InputKind>,
    /// The CSV field delimiter.
    pub delimiter: u8,
}

/// The rows of the input and the fields they are converted to.
pub struct Rows {
    /// The fields written.
    pub fields: Vec<Field>,
    /// The rows.
    pub reader: RowReader,
    /// The copy of standard input that inference read, deleted when dropped.
    pub spooled_input: Option<NamedTempFile>,
}

impl Input {
    /// The rows, converted to the `declared` fields; without them, to the fields a header of
    /// known fields decides (string widths follow the data), else to fields inferred in a
    /// first pass over the input, which is then read again: standard input from the copy made
    /// in a temporary file in `spool_dir` as the first pass reads it.
    pub fn rows(&self, declared: Option<Vec<Field>>, spool_dir: &Path) -> Result<Rows, Failure> {
        let Some(fields) = declared else {
            return self.inferred_rows(spool_dir);
        };
        let input: Box<dyn Read + Send> = match &self.path {
            Some(p) => self.open(p)?,
            None => Box::new(std::io::stdin()),
        };
        Ok(Rows {
            fields,
            reader: self.reader(input)?,
            spooled_input: None,
        })
    }

    fn inferred_rows(&self, spool_dir: &Path) -> Result<Rows, Failure> {
        let copying = Arc::new(AtomicBool::new(true));
        let mut spooled_input = None;
        let (input, again): (Box<dyn Read + Send>, PathBuf) = match &self.path {
            Some(p) => (self.open(p)?, p.clone()),
            None => {
                let (tee, spool) = tee_stdin(spool_dir, &copying)?;
                let again = spool.path().to_path_buf();
                spooled_input = Some(spool);
                (Box::new(tee), again)
            }
        };
        let mut reader = self.reader(input)?;
        let (fields, reader) = match rows::fields_from_header(&reader)? {
            Some(fields) => {
                copying.store(false, Ordering::Relaxed);
                (fields, reader)
            }
            None => {
                let fields = rows::infer_fields(&mut reader)?;
                check_inferred(&fields).map_err(|e| e.in_file(&self.name))?;
                let again = self.reader(self.open(&again)?)?;
                (fields, again)
            }
        };
        Ok(Rows {
            fields,
            reader,
            spooled_input,
        })
    }

    fn reader(&self, input: Box<dyn Read + Send>) -> Result<RowReader, Failure> {
        RowReader::new(input, self.kind, self.delimiter, &self.name)
    }

    /// The input file (a folder is refused by name).
    fn open(&self, p: &Path) -> Result<Box<dyn Read + Send>, Failure> {
        if p.is_dir() {
            return Err(Error::in_whole_file("is a directory")
                .in_file(&self.name)
                .into());
        }
        let f =
            std::fs::File::open(p).map_err(|e| Error::io(&e, Place::File).in_file(&self.name))?;
        Ok(Box::new(f))
    }
}

/// Standard input, copied as it is read (while `copying` holds) to a temporary file in
/// `spool_dir`.
fn tee_stdin(
    spool_dir: &Path,
    copying: &Arc<AtomicBool>,
) -> Result<(TeeReader<std::io::Stdin>, NamedTempFile), Failure> {
    let spool_name = spool_dir.display().to_string();
    let spool_error = |e: std::io::Error| Error::io(&e, Place::File).in_file(&spool_name);
    let spool = cs_format::temp::file_in(spool_dir).map_err(spool_error)?;
    let tee = TeeReader {
        inner: std::io::stdin(),
        copy: spool.as_file().try_clone().map_err(spool_error)?,
        copying: Arc::clone(copying),
    };
    Ok((tee, spool))
}

/// A stream that also writes what is read from it to `copy` while `copying` holds.
struct TeeReader<R> {
    inner: R,
    copy: std::fs::File,
    copying: Arc<AtomicBool>,
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.copying.load(Ordering::Relaxed) {
            self.copy.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}
