//! numpy records written in place: each row is encoded straight into its fixed-width record
//! and written at its final offset of the output file, so that a `.npy` file is built in one
//! pass without a spool. String fields need a width before their values are all known: they
//! start at a provisional width (a template's, or what inference measured) and the file is laid
//! out again when a longer string arrives or when, at the end, the longest string + 1 (what
//! cryosparc-tools writes) differs from the width in use.

use crate::container::dtype::{ByteOrder, Field, FieldType, Kind};
use crate::container::npy_header::npy_prefix;
use crate::error::{Error, Place, Result};
use rayon::prelude::*;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

fn io_err(e: std::io::Error) -> Error {
    Error::io(&e, Place::File)
}

/// Where each field of a row goes in a packed little-endian numpy record whose string fields
/// are `|S<width>`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordLayout {
    /// The fields as stored (strings `Kind::Bytes(width)`).
    fields: Vec<Field>,
    /// Byte offset of each field in a record.
    offsets: Vec<usize>,
    itemsize: usize,
}

impl RecordLayout {
    /// The layout of `fields` (numbers stored little-endian) with string field `i` (any string
    /// kind) stored `|S<widths[i]>`; `widths` is ignored for numbers. A record wider than
    /// [`MAX_RECORD_BYTES`](crate::limits::MAX_RECORD_BYTES) is refused (the error names the
    /// field that makes it so).
    pub fn new(fields: &[Field], widths: &[usize]) -> Result<Self> {
        let mut stored = Vec::with_capacity(fields.len());
        let mut offsets = Vec::with_capacity(fields.len());
        let mut itemsize: usize = 0;
        for (i, f) in fields.iter().enumerate() {
            let kind = if f.ty.kind.is_string() {
                Kind::Bytes(widths.get(i).copied().unwrap_or(1).max(1))
            } else {
                f.ty.kind
            };
            let field = Field {
                name: f.name.clone(),
                ty: FieldType {
                    kind,
                    order: ByteOrder::Little,
                    shape: f.ty.shape.clone(),
                },
            };
            offsets.push(itemsize);
            itemsize = itemsize.saturating_add(field.ty.size());
            stored.push(field);
        }
        crate::limits::check_record_bytes(&stored)?;
        Ok(RecordLayout {
            fields: stored,
            offsets,
            itemsize,
        })
    }

    /// The fields as stored.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The length of a `.npy` header for records of this layout (whatever the row count).
    fn header_len(&self) -> u64 {
        npy_prefix(&self.fields, 0).len() as u64
    }

    /// Bytes per record.
    pub fn itemsize(&self) -> usize {
        self.itemsize
    }

    /// Byte offset of field `i` in a record.
    pub fn offset(&self, i: usize) -> usize {
        self.offsets[i]
    }

    /// The width of string field `i` (None for numbers).
    pub fn string_width(&self, i: usize) -> Option<usize> {
        match self.fields[i].ty.kind {
            Kind::Bytes(w) => Some(w),
            _ => None,
        }
    }

    /// Copy one record of layout `from` into `to` (a record of this layout): numbers as they
    /// are, strings cut or zero-padded to this layout's widths (the caller makes sure they fit).
    fn copy_record(&self, from: &RecordLayout, old: &[u8], to: &mut [u8]) {
        for (i, f) in self.fields.iter().enumerate() {
            let (src, dst) = (from.offsets[i], self.offsets[i]);
            match (from.fields[i].ty.kind, f.ty.kind) {
                (Kind::Bytes(wo), Kind::Bytes(wn)) => {
                    let keep = wo.min(wn);
                    for e in 0..f.ty.count() {
                        let (s, d) = (src + e * wo, dst + e * wn);
                        to[d..d + keep].copy_from_slice(&old[s..s + keep]);
                        to[d + keep..d + wn].fill(0);
                    }
                }
                _ => {
                    let n = f.ty.size();
                    to[dst..dst + n].copy_from_slice(&old[src..src + n]);
                }
            }
        }
    }
}

/// Records encoded in one [`RecordLayout`], each with the input line it came from, and the
/// longest string element seen per field.
#[derive(Debug, Clone, Default)]
pub struct RecordBuf {
    bytes: Vec<u8>,
    /// The input line of each record.
    lines: Vec<u64>,
    longest: Vec<usize>,
}

impl RecordBuf {
    /// An empty buffer for `fields` fields.
    pub fn new(fields: usize) -> Self {
        RecordBuf {
            bytes: Vec::new(),
            lines: Vec::new(),
            longest: vec![0; fields],
        }
    }

    /// An empty buffer for `fields` fields with room for `records` records of `layout`.
    pub fn with_capacity(fields: usize, layout: &RecordLayout, records: u64) -> Self {
        let records = usize::try_from(records).unwrap_or(0);
        RecordBuf {
            bytes: Vec::with_capacity(records.saturating_mul(layout.itemsize)),
            lines: Vec::with_capacity(records),
            longest: vec![0; fields],
        }
    }

    /// Append a zeroed record of `layout` for input line `line`; return it to be filled in,
    /// with the longest string element per field to be updated.
    pub fn new_record(&mut self, layout: &RecordLayout, line: u64) -> (&mut [u8], &mut [usize]) {
        let at = self.bytes.len();
        self.bytes.resize(at + layout.itemsize, 0);
        self.lines.push(line);
        (&mut self.bytes[at..], &mut self.longest)
    }

    /// The records, one by one, each with its input line.
    pub fn records<'a>(
        &'a self,
        layout: &RecordLayout,
    ) -> impl Iterator<Item = (u64, &'a [u8])> + 'a {
        self.lines
            .iter()
            .copied()
            .zip(self.bytes.chunks_exact(layout.itemsize.max(1)))
    }

    /// Drop the last record (one that could not be completed).
    pub fn drop_last(&mut self, layout: &RecordLayout) {
        if self.lines.pop().is_some() {
            self.bytes.truncate(self.bytes.len() - layout.itemsize);
        }
    }
}

/// Rows per chunk when a file is laid out again (two chunks in flight per thread).
const RELAYOUT_ROWS: usize = 8192;

/// Bytes appended between two requests to flush the file to disk in the background. Small, so
/// that the final sync waits for little (measured: 64 MB left 0.1 s more to the end of a 455 MB
/// file than 4 MB); requests made while a flush runs are served by the next one, so on slow
/// storage the flushes simply run back to back.
const SYNC_EVERY: u64 = 4 << 20;

/// Flushes a file to disk on its own thread when asked, so that the final sync before the
/// rename has little left to do.
struct BackgroundSync {
    ask: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl BackgroundSync {
    fn new(file: &NamedTempFile) -> Result<Self> {
        let file = file.as_file().try_clone().map_err(io_err)?;
        let (ask, asked) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || -> std::io::Result<()> {
            while asked.recv().is_ok() {
                while asked.try_recv().is_ok() {} // one flush serves every request so far
                file.sync_data()?;
            }
            Ok(())
        });
        Ok(BackgroundSync {
            ask: Some(ask),
            thread: Some(thread),
        })
    }

    fn request(&self) {
        if let Some(ask) = &self.ask {
            let _ = ask.send(());
        }
    }

    /// Wait for the flushes asked for, and report the first failure.
    fn stop(&mut self) -> Result<()> {
        self.ask = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(done)) => done.map_err(io_err),
            Some(Err(_)) => Err(Error::in_whole_file("the flushing thread failed")),
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundSync {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A `.npy` file of packed records being built in a temporary file: records are appended at
/// their final offsets, and the header is written last by [`NumpyRecordFile::finish`]. The
/// file is flushed to disk in the background as it grows.
pub struct NumpyRecordFile {
    dir: PathBuf,
    /// The fields as given (string fields of any string kind).
    fields: Vec<Field>,
    layout: RecordLayout,
    /// Where the records start: the header's length, which does not depend on the row count.
    data_start: u64,
    file: NamedTempFile,
    sync: BackgroundSync,
    /// Bytes appended since the last background flush was asked for.
    unsynced: u64,
    rows: u64,
    /// Longest string element per field so far.
    longest: Vec<usize>,
}

impl std::fmt::Debug for NumpyRecordFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumpyRecordFile")
            .field("rows", &self.rows)
            .field("layout", &self.layout)
            .finish()
    }
}

impl NumpyRecordFile {
    /// A file for rows of `fields` (string fields: any string kind, first laid out at
    /// `widths[i]`), built in the folder `dir`.
    pub fn new(fields: Vec<Field>, widths: &[usize], dir: &Path) -> Result<Self> {
        let layout = RecordLayout::new(&fields, widths)?;
        let data_start = layout.header_len();
        let file = crate::temp::file_in(dir).map_err(io_err)?;
        Ok(NumpyRecordFile {
            dir: dir.to_path_buf(),
            longest: vec![0; fields.len()],
            fields,
            layout,
            data_start,
            sync: BackgroundSync::new(&file)?,
            file,
            unsynced: 0,
            rows: 0,
        })
    }

    /// The layout new records must be encoded in.
    pub fn layout(&self) -> &RecordLayout {
        &self.layout
    }

    /// Append records encoded in [`NumpyRecordFile::layout`].
    pub fn append(&mut self, records: &RecordBuf) -> Result<()> {
        let at = self.data_start + self.rows * self.layout.itemsize as u64;
        self.file
            .as_file()
            .write_all_at(&records.bytes, at)
            .map_err(io_err)?;
        self.rows += records.lines.len() as u64;
        for (l, &n) in self.longest.iter_mut().zip(&records.longest) {
            *l = (*l).max(n);
        }
        self.unsynced += records.bytes.len() as u64;
        if self.unsynced >= SYNC_EVERY {
            self.unsynced = 0;
            self.sync.request();
        }
        Ok(())
    }

    /// Make room for string elements as long as `needed[i]` bytes: widths grow to the final
    /// rule's longest + 1 (no further pass at the end if nothing longer follows) and by at
    /// least half, so that strings growing through a file cost a few passes, not one per row.
    pub fn widen(&mut self, needed: &[usize]) -> Result<()> {
        let widths: Vec<usize> = (0..self.fields.len())
            .map(|i| {
                let need = needed.get(i).copied().unwrap_or(0);
                match self.layout.string_width(i) {
                    Some(w) if need > w => (need + 1).max(w + w / 2),
                    Some(w) => w,
                    None => 0,
                }
            })
            .collect();
        self.lay_out(RecordLayout::new(&self.fields, &widths)?)
    }

    /// Write the records again in `layout`, into a new temporary file.
    fn lay_out(&mut self, layout: RecordLayout) -> Result<()> {
        if layout == self.layout {
            return Ok(());
        }
        let data_start = layout.header_len();
        let file = crate::temp::file_in(&self.dir).map_err(io_err)?;
        let (old, new) = (&self.layout, &layout);
        let (old_file, new_file) = (self.file.as_file(), file.as_file());
        let chunks = self.rows.div_ceil(RELAYOUT_ROWS as u64);
        (0..chunks)
            .into_par_iter()
            .try_for_each(|c| -> Result<()> {
                let first = c * RELAYOUT_ROWS as u64;
                let rows = (self.rows - first).min(RELAYOUT_ROWS as u64) as usize;
                let mut src = vec![0u8; rows * old.itemsize];
                old_file
                    .read_exact_at(&mut src, self.data_start + first * old.itemsize as u64)
                    .map_err(io_err)?;
                let mut dst = vec![0u8; rows * new.itemsize];
                for (o, n) in src
                    .chunks_exact(old.itemsize)
                    .zip(dst.chunks_exact_mut(new.itemsize))
                {
                    new.copy_record(old, o, n);
                }
                new_file
                    .write_all_at(&dst, data_start + first * new.itemsize as u64)
                    .map_err(io_err)
            })?;
        self.sync.stop()?;
        self.sync = BackgroundSync::new(&file)?;
        self.file = file;
        self.layout = layout;
        self.data_start = data_start;
        Ok(())
    }

    /// Lay the records out with string widths of the longest element + 1 (cryosparc-tools'
    /// rule), write the header, and hand over the complete temporary file.
    pub fn finish(mut self) -> Result<NamedTempFile> {
        let widths: Vec<usize> = self.longest.iter().map(|&n| n + 1).collect();
        self.lay_out(RecordLayout::new(&self.fields, &widths)?)?;
        let prefix = npy_prefix(self.layout.fields(), self.rows);
        if prefix.len() as u64 != self.data_start {
            return Err(Error::in_whole_file(
                "numpy header length changed with the row count (internal error)",
            ));
        }
        self.file
            .as_file()
            .write_all_at(&prefix, 0)
            .map_err(io_err)?;
        let end = self.data_start + self.rows * self.layout.itemsize as u64;
        self.file.as_file().set_len(end).map_err(io_err)?;
        self.sync.stop()?;
        Ok(self.file)
    }
}
