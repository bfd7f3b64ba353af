//! Joining datasets on `uid`, as cryoSPARC joins the metafiles of an output group (FORMATS.md
//! §8.1 step 3, cryosparc-tools `Dataset.innerjoin`): rows of the first dataset, in its order,
//! whose uid every other dataset has; `uid`, then each dataset's fields in order, a field that
//! several datasets have coming from (and placed as in) the last of them — the field order
//! cryosparc-tools gives. A left join keeps every row of the first dataset (pyem's rule).

use crate::container::dataset::{Dataset, CHUNK_BYTES};
use crate::container::dtype::{ByteOrder, Field, FieldType, Kind};
use crate::container::writer::{cells_from_chunk, RowSpool};
use crate::error::{Error, Place, Result};
use crate::ops::uids::UidMap;
use std::path::Path;

/// Which rows a join keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinMode {
    /// Rows whose uid every dataset has.
    Inner,
    /// Every row of the first dataset; a uid another dataset lacks is an error, or (`fill`)
    /// gets zeros and empty strings there.
    Left {
        /// Fill missing values instead of stopping.
        fill: bool,
    },
    /// pyem's passthrough rule (`csparc2star MAIN.cs PASSTHROUGH.cs…`): rows of the first
    /// dataset whose uid every other has, in its order; a field that several datasets have
    /// comes from the first of them.
    Passthrough,
}

/// A change made to each joined row's cells before it is spooled (cells in
/// [`RowSpool::push_row`]'s layout, one per field).
pub type RowEdit<'a> = dyn FnMut(&[Field], &mut [Vec<u8>]) -> Result<()> + 'a;

/// A field as the writer takes it: little-endian numbers, strings as text.
fn writable(f: &Field) -> Field {
    Field {
        name: f.name.clone(),
        ty: FieldType {
            kind: if f.ty.kind.is_string() {
                Kind::HeapStr
            } else {
                f.ty.kind
            },
            order: ByteOrder::Little,
            shape: f.ty.shape.clone(),
        },
    }
}

/// One later dataset held in memory: its rows by uid, and where each of its fields goes.
struct Side {
    name: String,
    /// Row number by uid.
    by_uid: UidMap<usize>,
    /// The target cells of every row, one after another: (u32 length, bytes) each.
    data: Vec<u8>,
    /// Where each row starts in `data`.
    starts: Vec<usize>,
    /// (its column, output column), uid left out.
    targets: Vec<(usize, usize)>,
}

impl Side {
    /// Copy row `r`'s cells into their output columns.
    fn copy_row(&self, r: usize, out: &mut [Vec<u8>]) {
        let mut at = self.starts[r];
        for &(_, o) in &self.targets {
            let len = self
                .data
                .get(at..at + 4)
                .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
            at += 4;
            out[o].clear();
            out[o].extend_from_slice(&self.data[at..at + len]);
            at += len;
        }
    }
}

fn uid_column(ds: &Dataset) -> Result<usize> {
    let i = ds.schema().index_of("uid").ok_or_else(|| {
        Error::new(Place::Field("uid".into()), "is missing: cannot join on uid").in_file(ds.name())
    })?;
    let ty = &ds.schema().fields[i].ty;
    if !ty.shape.is_empty() || ty.kind.is_string() {
        return Err(Error::new(Place::Field("uid".into()), "is not an integer").in_file(ds.name()));
    }
    Ok(i)
}

/// A cell of zeros (numbers) or empty strings.
fn empty_cell(field: &Field, cell: &mut Vec<u8>) {
    cell.clear();
    if field.ty.kind.is_string() {
        for _ in 0..field.ty.count() {
            crate::container::writer::push_string_element(cell, b"");
        }
    } else {
        cell.resize(field.ty.kind.size() * field.ty.count(), 0);
    }
}

fn uid_of(cell: &[u8], kind: Kind) -> u64 {
    crate::text::cell::integer_as_u64(kind, ByteOrder::Little, cell).unwrap_or(u64::MAX)
}

/// Join `datasets` on uid into a spool in `spool_dir`, applying `edit` to every row. The
/// first dataset streams; the others are held in memory.
pub fn join_on_uid(
    datasets: Vec<Dataset>,
    spool_dir: &Path,
    mode: JoinMode,
    edit: &mut RowEdit<'_>,
) -> Result<RowSpool> {
    let mut datasets = datasets.into_iter();
    let first = datasets
        .next()
        .ok_or_else(|| Error::in_whole_file("nothing to join"))?;
    let first_uid = uid_column(&first)?;
    let datasets: Vec<Dataset> = datasets.collect();
    let (fields, mut sources) = layout(&first, &datasets, first_uid, mode);
    let first_sources = std::mem::take(&mut sources[0]);
    let mut sides = Vec::new();
    for (ds, targets) in datasets.into_iter().zip(sources.into_iter().skip(1)) {
        sides.push(Side::load(ds, targets)?);
    }
    let mut spool = RowSpool::new(fields.clone(), spool_dir)?;
    let join = Join {
        fields,
        first_sources,
        sides,
        mode,
    };
    join.spool_rows(first, first_uid, edit, &mut spool)?;
    Ok(spool)
}

/// The joined fields — `uid`, then each dataset's fields in order, a field that several
/// datasets have coming from (and placed as in) the last of them (the first, for
/// passthroughs) — and, per dataset, (its column, output column) of the fields it gives.
fn layout(
    first: &Dataset,
    later: &[Dataset],
    first_uid: usize,
    mode: JoinMode,
) -> (Vec<Field>, Vec<Vec<(usize, usize)>>) {
    let names: Vec<Vec<String>> = std::iter::once(first)
        .chain(later)
        .map(|d| d.schema().fields.iter().map(|f| f.name.clone()).collect())
        .collect();
    let mut fields = vec![writable(&first.schema().fields[first_uid])];
    let mut sources: Vec<Vec<(usize, usize)>> = vec![Vec::new(); names.len()];
    sources[0].push((first_uid, 0));
    for (d, ds) in std::iter::once(first).chain(later).enumerate() {
        for (c, f) in ds.schema().fields.iter().enumerate() {
            let others = if mode == JoinMode::Passthrough {
                &names[..d]
            } else {
                &names[d + 1..]
            };
            let taken_elsewhere = others.iter().any(|n| n.contains(&f.name));
            if f.name == "uid" || taken_elsewhere {
                continue;
            }
            sources[d].push((c, fields.len()));
            fields.push(writable(f));
        }
    }
    (fields, sources)
}

impl Side {
    /// Read a later dataset into memory: the cells of its fields that go to output columns
    /// `targets` ((its column, output column)), by uid.
    fn load(ds: Dataset, targets: Vec<(usize, usize)>) -> Result<Side> {
        let u = uid_column(&ds)?;
        let kind = ds.schema().fields[u].ty.kind;
        let mut side = Side {
            name: ds.name().to_string(),
            by_uid: UidMap::default(),
            data: Vec::new(),
            starts: Vec::new(),
            targets,
        };
        let mut cells = vec![Vec::new(); ds.schema().fields.len()];
        for chunk in ds.every_field().chunks(CHUNK_BYTES)? {
            let chunk = chunk?;
            for row in 0..chunk.rows {
                cells_from_chunk(&chunk, row, &mut cells)?;
                side.by_uid
                    .insert(uid_of(&cells[u], kind), side.starts.len());
                side.starts.push(side.data.len());
                for &(c, _) in &side.targets {
                    side.data
                        .extend_from_slice(&(cells[c].len() as u32).to_le_bytes());
                    side.data.extend_from_slice(&cells[c]);
                }
            }
        }
        Ok(side)
    }
}

/// A join laid out: the output fields, where the first dataset's cells go, and the later
/// datasets in memory.
struct Join {
    fields: Vec<Field>,
    /// (first dataset's column, output column).
    first_sources: Vec<(usize, usize)>,
    sides: Vec<Side>,
    mode: JoinMode,
}

impl Join {
    /// Stream the rows of `first` (its uid in column `first_uid`), join each with the later
    /// datasets, edit it and spool it.
    fn spool_rows(
        &self,
        first: Dataset,
        first_uid: usize,
        edit: &mut RowEdit<'_>,
        spool: &mut RowSpool,
    ) -> Result<()> {
        let uid_kind = first.schema().fields[first_uid].ty.kind;
        let first_name = first.name().to_string();
        let mut cells = vec![Vec::new(); first.schema().fields.len()];
        let mut out = vec![Vec::new(); self.fields.len()];
        for chunk in first.every_field().chunks(CHUNK_BYTES)? {
            let chunk = chunk?;
            for row in 0..chunk.rows {
                cells_from_chunk(&chunk, row, &mut cells)?;
                let uid = uid_of(&cells[first_uid], uid_kind);
                for &(c, o) in &self.first_sources {
                    out[o].clone_from(&cells[c]);
                }
                let at = chunk.start_row + row as u64;
                if self
                    .add_sides(uid, at, &mut out)
                    .map_err(|e| e.in_file(&first_name))?
                {
                    edit(&self.fields, &mut out)?;
                    spool.push_row(&out)?;
                }
            }
        }
        Ok(())
    }

    /// Fill the later datasets' columns of row `row` (uid `uid`) of the first dataset: false
    /// when the row is left out, an error when a left join without fill misses the uid.
    fn add_sides(&self, uid: u64, row: u64, out: &mut [Vec<u8>]) -> Result<bool> {
        for side in &self.sides {
            match (side.by_uid.get(&uid), self.mode) {
                (Some(&r), _) => side.copy_row(r, out),
                (None, JoinMode::Inner | JoinMode::Passthrough) => return Ok(false),
                (None, JoinMode::Left { fill: true }) => {
                    for &(_, o) in &side.targets {
                        empty_cell(&self.fields[o], &mut out[o]);
                    }
                }
                (None, JoinMode::Left { fill: false }) => {
                    return Err(Error::new(
                        Place::Cell {
                            row,
                            field: "uid".into(),
                        },
                        format!(
                            "uid {uid} is not in {} (give --fill to fill its fields with zeros and empty strings)",
                            side.name
                        ),
                    ));
                }
            }
        }
        Ok(true)
    }
}

/// True when a join of inputs of `input_rows` rows each (two or more, none empty) gave no row
/// because they have no uid in common; a left join keeps the first input's rows, so it never is.
pub fn had_no_uid_in_common(input_rows: &[u64], joined_rows: u64, mode: JoinMode) -> bool {
    !matches!(mode, JoinMode::Left { .. })
        && input_rows.len() > 1
        && input_rows.iter().all(|&n| n > 0)
        && joined_rows == 0
}

/// Join datasets into a nameless temporary numpy file in `dir` and open it (nothing is left
/// behind, even when the process is killed; the data stay readable until the dataset is
/// dropped). `name` is how errors refer to the result.
pub fn join_to_dataset(
    datasets: Vec<Dataset>,
    mode: JoinMode,
    dir: &Path,
    name: &str,
) -> Result<Dataset> {
    let spool = join_on_uid(datasets, dir, mode, &mut |_, _| Ok(()))?;
    let mut tmp = tempfile::tempfile_in(dir)
        .map_err(|e| Error::io(&e, Place::File).in_file(&dir.display().to_string()))?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut tmp);
        spool.write(crate::container::writer::OutputFormat::Numpy, &mut w)?;
        std::io::Write::flush(&mut w).map_err(|e| Error::io(&e, Place::File))?;
    }
    Dataset::from_file(tmp, name)
}
