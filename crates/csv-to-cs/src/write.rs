//! The rows converted into the output, batch by batch (the next batch is read while one is
//! converted, in parallel pieces): numpy records written in place, or CSDAT rows spooled and
//! then written column by column. With `--like`, every uid is checked against the template's.

use crate::rows::{Batch, RowReader, Target};
use crate::uid_check::TemplateUids;
use cs_cli::{Failure, Outcome};
use cs_format::container::records::{NumpyRecordFile, RecordBuf, RecordLayout};
use cs_format::container::writer::{EncodedRows, RowSpool};
use cs_format::limits::MAX_PRESET_STRING_WIDTH;
use cs_format::{Error, Field, Kind, Place};
use rayon::prelude::*;
use std::path::Path;
use tempfile::NamedTempFile;

/// JSON-lines rows read per batch (a CSV batch is a block of whole records).
const BATCH_ROWS: usize = 8192;

/// The (line, uid) of each row of a piece.
type LinesAndUids = Vec<(u64, u64)>;

/// Converting the rows into the fields written, with errors named for the input (a bad value)
/// or the temporary files in the output's folder (an I/O error).
pub struct Conversion<'a> {
    target: Target,
    /// The scalar integer `uid` field, when there is one.
    uid_field: Option<usize>,
    input_name: &'a str,
    spool_dir: &'a Path,
}

impl<'a> Conversion<'a> {
    /// Converting into `fields`, reading the input called `input_name`, with temporary files in
    /// `spool_dir`.
    pub fn new(fields: Vec<Field>, input_name: &'a str, spool_dir: &'a Path) -> Self {
        let target = Target::new(fields);
        let uid_field = target
            .fields()
            .iter()
            .position(|f| f.name == "uid" && f.ty.shape.is_empty() && !f.ty.kind.is_string());
        Conversion {
            target,
            uid_field,
            input_name,
            spool_dir,
        }
    }

    /// numpy: each row is encoded straight into its record of the output file, written in
    /// the output's folder; the records of one batch are written (and their uids checked) while
    /// the next batch is converted.
    pub fn numpy_file(
        &self,
        fields: Vec<Field>,
        reader: RowReader,
        mut uids: Option<TemplateUids>,
    ) -> Result<NamedTempFile, Failure> {
        let widths: Vec<usize> = fields.iter().map(|f| first_width(f.ty.kind)).collect();
        let mut file = NumpyRecordFile::new(fields, &widths, self.spool_dir)
            .map_err(|e| self.layout_error(e))?;
        let mut unwritten: Vec<RecordBuf> = Vec::new();
        let converted = for_each_batch(reader, &self.target, |batch| {
            self.numpy_batch(batch, &mut file, &mut unwritten, &mut uids)
        });
        // Rows converted before an error are checked first: an unknown uid early in the
        // input is reported before a later error.
        self.check_uids(&mut uids, file.layout(), &unwritten)
            .map_err(|e| self.in_input(e))?;
        if let Some(check) = &mut uids {
            check.finish().map_err(|e| self.in_input(e))?;
        }
        converted?;
        for r in &unwritten {
            file.append(r)?;
        }
        file.finish().map_err(|e| self.layout_error(e))
    }

    /// Convert one batch into records of the file's layout (`unwritten`) while the previous
    /// batch's records are checked and written. A string longer than its width so far widens
    /// the file and the batch is converted again.
    fn numpy_batch(
        &self,
        batch: &Batch,
        file: &mut NumpyRecordFile,
        unwritten: &mut Vec<RecordBuf>,
        uids: &mut Option<TemplateUids>,
    ) -> Outcome {
        loop {
            let layout = file.layout().clone();
            let previous = std::mem::take(unwritten);
            let (written, pieces) = rayon::join(
                || -> Outcome {
                    self.check_uids(uids, &layout, &previous)
                        .map_err(|e| self.in_input(e))?;
                    for r in &previous {
                        file.append(r)?;
                    }
                    Ok(())
                },
                || -> Vec<Result<Option<RecordBuf>, Error>> {
                    (0..batch.pieces())
                        .into_par_iter()
                        .map(|k| self.target.records_of_piece(batch, k, &layout))
                        .collect()
                },
            );
            written?;
            for piece in pieces {
                match piece.map_err(|e| self.in_input(e))? {
                    Some(r) => unwritten.push(r),
                    None => break, // a string longer than its width so far
                }
            }
            if unwritten.len() == batch.pieces() {
                return Ok(());
            }
            unwritten.clear();
            let longest = (0..batch.pieces())
                .into_par_iter()
                .map(|k| self.target.longest_strings(batch, k))
                .try_reduce(Vec::new, |a, b| Ok(elementwise_max(a, b)))
                .map_err(|e| self.in_input(e))?;
            file.widen(&longest).map_err(|e| self.layout_error(e))?;
        }
    }

    /// Check the uids of `records` (in `layout`) against the template's, when asked.
    fn check_uids(
        &self,
        uids: &mut Option<TemplateUids>,
        layout: &RecordLayout,
        records: &[RecordBuf],
    ) -> Result<(), Error> {
        let (Some(check), Some(u)) = (uids, self.uid_field) else {
            return Ok(());
        };
        let at = layout.offset(u)..layout.offset(u) + self.target.fields()[u].ty.kind.size();
        for r in records {
            check.check(r.records(layout).filter_map(|(line, record)| {
                Some((line, self.uid_of(record.get(at.clone())?)?))
            }))?;
        }
        Ok(())
    }

    /// CSDAT is column-major: the rows are spooled (in the output's folder), to be written
    /// column by column.
    pub fn row_spool(
        &self,
        fields: Vec<Field>,
        reader: RowReader,
        mut uids: Option<TemplateUids>,
    ) -> Result<RowSpool, Failure> {
        let mut spool = RowSpool::new(fields, self.spool_dir)
            .map_err(|e| e.in_file(&self.spool_dir.display().to_string()))?;
        if let Some(check) = &mut uids {
            check.finish().map_err(|e| self.in_input(e))?;
        }
        for_each_batch(reader, &self.target, |batch| {
            let pieces: Vec<Result<(EncodedRows, LinesAndUids), Error>> = (0..batch.pieces())
                .into_par_iter()
                .map(|k| self.encoded_piece(batch, k))
                .collect();
            for piece in pieces {
                let (rows, lines_and_uids) = piece.map_err(|e| self.in_input(e))?;
                if let Some(check) = &mut uids {
                    check
                        .check(lines_and_uids.into_iter())
                        .map_err(|e| self.in_input(e))?;
                }
                spool.push_encoded(&rows)?;
            }
            Ok(())
        })?;
        Ok(spool)
    }

    /// The rows of piece `k` of a batch encoded for the spool, and their lines and uids.
    fn encoded_piece(&self, batch: &Batch, k: usize) -> Result<(EncodedRows, LinesAndUids), Error> {
        let mut enc = EncodedRows::new(self.target.fields().len());
        let mut lines_and_uids = Vec::new();
        self.target.convert_piece(batch, k, &mut |line, cells| {
            enc.push(self.target.fields(), cells);
            if let Some(uid) = self.uid_field.and_then(|u| self.uid_of(&cells[u])) {
                lines_and_uids.push((line, uid));
            }
            Ok(())
        })?;
        Ok((enc, lines_and_uids))
    }

    /// The uid an element of the uid field holds.
    fn uid_of(&self, record: &[u8]) -> Option<u64> {
        let u = self.uid_field?;
        cs_format::text::cell::integer_as_u64(
            self.target.fields()[u].ty.kind,
            cs_format::ByteOrder::Little,
            record,
        )
    }

    /// An error in the input's values.
    fn in_input(&self, e: Error) -> Failure {
        Failure::from(e.in_file(self.input_name))
    }

    /// A layout error names a field when the input's strings make records too wide; any other
    /// (an I/O error) is the temporary file's, in the output's folder.
    fn layout_error(&self, e: Error) -> Failure {
        match e.place {
            Place::Field(_) => self.in_input(e),
            _ => Failure::from(e.in_file(&self.spool_dir.display().to_string())),
        }
    }
}

/// The width a string field is first laid out with: its declared `|S` width (a template's is
/// usually exact) up to [`MAX_PRESET_STRING_WIDTH`], else 1 (the first rows widen it).
fn first_width(kind: Kind) -> usize {
    let declared = match kind {
        Kind::Bytes(n) => n,
        Kind::Ucs4(n) => n.saturating_add(1),
        _ => 1,
    };
    declared.min(MAX_PRESET_STRING_WIDTH)
}

fn elementwise_max(mut a: Vec<usize>, b: Vec<usize>) -> Vec<usize> {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x = (*x).max(y);
    }
    a
}

/// Read the input in batches on one thread while `convert` handles the previous batch on
/// this one (in parallel pieces); batches come in input order, so the first error in the input
/// wins.
fn for_each_batch(
    mut reader: RowReader,
    target: &Target,
    mut convert: impl FnMut(&Batch) -> Outcome,
) -> Outcome {
    std::thread::scope(|scope| -> Outcome {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Batch>();
        let read = scope.spawn(move || -> Outcome {
            loop {
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                if reader.read_batch(target, BATCH_ROWS, &mut batch)? == 0 {
                    return Ok(());
                }
                if full_tx.send(batch).is_err() {
                    return Ok(()); // the converter stopped on an error
                }
            }
        });
        let converted = (|| -> Outcome {
            for batch in full_rx {
                convert(&batch)?;
                let _ = empty_tx.send(batch);
            }
            Ok(())
        })();
        let read_result = read
            .join()
            .unwrap_or_else(|_| Err(Failure::Usage("the input reader thread failed".into())));
        converted?;
        read_result
    })
}
