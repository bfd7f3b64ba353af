//! Joining datasets on `uid`, as cryoSPARC joins the metafiles of an output group (FORMATS.md
//! §8.1 step 3, cryosparc-tools `Dataset.innerjoin`): rows of the first dataset, in its order,
//! whose uid every other dataset has; the first dataset's fields, then each later dataset's
//! fields (a field already present takes the later dataset's value, in its place).

use crate::dataset::Dataset;
use crate::dtype::{ByteOrder, Field, FieldType, Kind};
use crate::error::{Error, Place, Result};
use crate::writer::{cells_from_chunk, RowSpool};
use std::collections::HashMap;
use std::path::Path;

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
    by_uid: HashMap<u64, usize>,
    rows: Vec<Vec<Vec<u8>>>,
    /// (its column, output column), uid left out.
    targets: Vec<(usize, usize)>,
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

fn uid_of(cell: &[u8], kind: Kind) -> u64 {
    crate::cell::as_u64(&crate::cell::decode_number(kind, ByteOrder::Little, cell))
        .unwrap_or(u64::MAX)
}

/// Join `datasets` on uid into a spool in `spool_dir`, applying `edit` to every row. The
/// first dataset streams; the others are held in memory.
pub fn join_on_uid(
    datasets: Vec<Dataset>,
    spool_dir: &Path,
    edit: &mut RowEdit<'_>,
) -> Result<RowSpool> {
    let mut datasets = datasets.into_iter();
    let first = datasets
        .next()
        .ok_or_else(|| Error::in_whole_file("nothing to join"))?;
    let first_uid = uid_column(&first)?;
    let uid_kind = first.schema().fields[first_uid].ty.kind;
    let mut fields: Vec<Field> = first.schema().fields.iter().map(writable).collect();
    let mut sides = Vec::new();
    for ds in datasets {
        let u = uid_column(&ds)?;
        let kind = ds.schema().fields[u].ty.kind;
        let mut targets = Vec::new();
        for (i, f) in ds.schema().fields.iter().enumerate() {
            if i == u {
                continue;
            }
            let out = match fields.iter().position(|o| o.name == f.name) {
                Some(o) => {
                    fields[o] = writable(f);
                    o
                }
                None => {
                    fields.push(writable(f));
                    fields.len() - 1
                }
            };
            targets.push((i, out));
        }
        let all: Vec<usize> = (0..ds.schema().fields.len()).collect();
        let mut by_uid = HashMap::new();
        let mut rows = Vec::new();
        for chunk in ds.chunks(&all, 4 << 20)? {
            let chunk = chunk?;
            for row in 0..chunk.rows {
                let mut cells = vec![Vec::new(); all.len()];
                cells_from_chunk(&chunk, row, &mut cells)?;
                by_uid.insert(uid_of(&cells[u], kind), rows.len());
                rows.push(cells);
            }
        }
        sides.push(Side {
            by_uid,
            rows,
            targets,
        });
    }
    let mut spool = RowSpool::new(fields.clone(), spool_dir)?;
    let n_first = first.schema().fields.len();
    let all: Vec<usize> = (0..n_first).collect();
    let mut cells = vec![Vec::new(); n_first];
    let mut out = vec![Vec::new(); fields.len()];
    for chunk in first.chunks(&all, 4 << 20)? {
        let chunk = chunk?;
        'rows: for row in 0..chunk.rows {
            cells_from_chunk(&chunk, row, &mut cells)?;
            let uid = uid_of(&cells[first_uid], uid_kind);
            for (o, c) in out.iter_mut().zip(&cells) {
                o.clone_from(c);
            }
            for side in &sides {
                let Some(&r) = side.by_uid.get(&uid) else {
                    continue 'rows;
                };
                for &(i, o) in &side.targets {
                    out[o].clone_from(&side.rows[r][i]);
                }
            }
            edit(&fields, &mut out)?;
            spool.push_row(&out)?;
        }
    }
    Ok(spool)
}
