//! The parallel chunk-to-text engine: the rows of a [`Projection`] spelled by a [`RowSpeller`]
//! (JSON-lines, CSV, STAR), each chunk cut into pieces spelled on rayon's threads and written
//! in row order.

use crate::container::dataset::{Chunk, CHUNK_BYTES};
use crate::container::projection::Projection;
use crate::error::Error;
use crate::text::jsonl::RowSpeller;
use rayon::prelude::*;
use std::io::Write;

/// Rows below which a chunk is spelled on one thread.
const MIN_ROWS_PER_TASK: usize = 512;

/// Why a conversion stopped: the input (a bad cell, a truncated file; the error names the
/// file) or the output (an I/O error of the writer, for the caller to name).
#[derive(Debug)]
pub enum ConvertError {
    /// Reading or spelling the input failed.
    Input(Error),
    /// Writing the text failed.
    Output(std::io::Error),
}

impl From<Error> for ConvertError {
    fn from(e: Error) -> Self {
        ConvertError::Input(e)
    }
}

impl From<std::io::Error> for ConvertError {
    fn from(e: std::io::Error) -> Self {
        ConvertError::Output(e)
    }
}

/// Spells chunks as text in parallel pieces, reusing its buffers from chunk to chunk.
#[derive(Debug, Default)]
pub struct ChunkConverter {
    buffers: Vec<Vec<u8>>,
}

impl ChunkConverter {
    /// Write at most `limit` rows of `rows` to `out`, spelled by `speller`; returns how many
    /// rows were written. Rows before a bad cell are written; the error then stops the output.
    pub fn stream(
        &mut self,
        rows: Projection,
        limit: u64,
        speller: &dyn RowSpeller,
        out: &mut impl Write,
    ) -> Result<u64, ConvertError> {
        let name = rows.name().to_string();
        let mut chunks = rows.chunks(CHUNK_BYTES)?;
        chunks.limit(limit);
        let mut written = 0;
        while let Some(chunk) = chunks.next_chunk() {
            let chunk = chunk?;
            written += chunk.rows as u64;
            self.write_chunk(speller, &chunk, out)
                .map_err(|e| match e {
                    ConvertError::Input(e) => ConvertError::Input(e.in_file(&name)),
                    output => output,
                })?;
            chunks.recycle(chunk);
        }
        Ok(written)
    }

    /// Spell a chunk in parallel pieces and write them in order, up to the first bad cell.
    fn write_chunk(
        &mut self,
        speller: &dyn RowSpeller,
        chunk: &Chunk,
        out: &mut impl Write,
    ) -> Result<(), ConvertError> {
        let tasks = (chunk.rows / MIN_ROWS_PER_TASK).clamp(1, rayon::current_num_threads() * 4);
        let per = chunk.rows.div_ceil(tasks);
        if self.buffers.len() < tasks {
            self.buffers.resize_with(tasks, Vec::new);
        }
        let errors: Vec<Option<Error>> = self.buffers[..tasks]
            .par_iter_mut()
            .enumerate()
            .map(|(t, buf)| {
                let rows = (t * per).min(chunk.rows)..((t + 1) * per).min(chunk.rows);
                spell_rows(speller, chunk, rows, buf)
            })
            .collect();
        for (buf, err) in self.buffers.iter().zip(errors) {
            out.write_all(buf)?;
            if let Some(e) = err {
                return Err(e.into());
            }
        }
        Ok(())
    }
}

/// Spell `rows` of `chunk` into `buf` (cleared first), row by row so that a bad cell leaves
/// the rows before it: the error, if any.
fn spell_rows(
    speller: &dyn RowSpeller,
    chunk: &Chunk,
    rows: std::ops::Range<usize>,
    buf: &mut Vec<u8>,
) -> Option<Error> {
    buf.clear();
    for row in rows {
        let mark = buf.len();
        if let Err(e) = speller.write_rows(chunk, row..row + 1, buf) {
            buf.truncate(mark);
            return Some(e);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;
    use crate::container::dataset::Dataset;
    use crate::container::dtype::{ByteOrder, Field, FieldType, Kind};
    use crate::error::Place;
    use std::ops::Range;

    /// A numpy file of `rows` rows of one `<u4` field `n` holding 0, 1, 2, …
    fn counting(rows: u32) -> Dataset {
        let field = Field {
            name: "n".into(),
            ty: FieldType {
                kind: Kind::U32,
                order: ByteOrder::Little,
                shape: Vec::new(),
            },
        };
        let mut file = crate::container::npy_header::npy_prefix(&[field], u64::from(rows));
        (0..rows).for_each(|n| file.extend_from_slice(&n.to_le_bytes()));
        Dataset::from_reader(Box::new(std::io::Cursor::new(file)), "count.cs").unwrap()
    }

    /// Spells `n` on a line; a bad cell at `n == bad`.
    struct FailsAt {
        bad: u32,
    }

    impl RowSpeller for FailsAt {
        fn write_rows(
            &self,
            chunk: &Chunk,
            rows: Range<usize>,
            out: &mut Vec<u8>,
        ) -> crate::Result<()> {
            for row in rows {
                let raw = chunk.raw(row, 0);
                let n = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
                if n == self.bad {
                    return Err(Error::new(Place::Field("n".into()), "bad"));
                }
                out.extend_from_slice(format!("{n}\n").as_bytes());
            }
            Ok(())
        }
    }

    fn lines(text: &[u8]) -> Vec<u32> {
        let text = std::str::from_utf8(text).unwrap();
        text.lines().map(|l| l.parse().unwrap()).collect()
    }

    #[test]
    fn rows_come_out_in_order_up_to_the_limit() {
        let mut out = Vec::new();
        let speller = FailsAt { bad: u32::MAX };
        let n = ChunkConverter::default()
            .stream(counting(5000).every_field(), 4321, &speller, &mut out)
            .unwrap();
        assert_eq!(n, 4321);
        assert_eq!(lines(&out), (0..4321).collect::<Vec<u32>>());
    }

    #[test]
    fn a_bad_cell_stops_the_output_after_the_rows_before_it_naming_the_file() {
        // 5000 rows are spelled in several pieces; the bad row is in a later piece.
        let mut out = Vec::new();
        let speller = FailsAt { bad: 3000 };
        let err = ChunkConverter::default()
            .stream(counting(5000).every_field(), u64::MAX, &speller, &mut out)
            .unwrap_err();
        let ConvertError::Input(e) = err else {
            panic!("{err:?}")
        };
        assert_eq!(e.to_string(), "count.cs: field n: bad");
        assert_eq!(lines(&out), (0..3000).collect::<Vec<u32>>());
    }

    /// Takes `room` bytes, then fails as a full disk does.
    struct Full {
        room: usize,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_is_an_output_error_not_an_input_error() {
        let speller = FailsAt { bad: u32::MAX };
        let err = ChunkConverter::default()
            .stream(
                counting(100).every_field(),
                u64::MAX,
                &speller,
                &mut Full { room: 10 },
            )
            .unwrap_err();
        assert!(
            matches!(&err, ConvertError::Output(e) if e.kind() == std::io::ErrorKind::StorageFull),
            "{err:?}"
        );
    }
}
