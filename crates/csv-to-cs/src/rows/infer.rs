//! The fields of an input given neither `--like` nor `--schema`: a CSV header of cryoSPARC's
//! known fields decides them alone; otherwise known fields take their dtype by name and the
//! others what all their values could be (integers, numbers, else text).

use super::batches::{Batch, CsvBlocks, Inner, Piece, RowReader};
use super::csv_records::for_each_record;
use super::json_objects::{flatten, json_shape, parse_object};
use cs_cli::Failure;
use cs_format::container::known::known_field;
use cs_format::limits::MAX_CSV_INDEX;
use cs_format::text::csv::split_column_name;
use cs_format::text::parse::number_prefix;
use cs_format::{ByteOrder, Error, Field, FieldType, Kind, Place};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// What the values of a field could be, and the longest of them (its width as text).
#[derive(Debug, Clone, Copy)]
struct Class {
    i64: bool,
    u64: bool,
    f64: bool,
    longest: usize,
}

impl Class {
    fn any() -> Self {
        Class {
            i64: true,
            u64: true,
            f64: true,
            longest: 0,
        }
    }

    fn see(&mut self, text: &str) {
        self.longest = self.longest.max(text.len());
        let t = text.trim();
        let t = t
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(t);
        // Only what is still possible is tested.
        self.i64 = self.i64 && t.parse::<i64>().is_ok();
        self.u64 = self.u64 && t.parse::<u64>().is_ok();
        self.f64 = self.f64
            && (number_prefix(Kind::F64, t.as_bytes(), &mut [0; 8]) == Some(t.len())
                || matches!(t, "NaN" | "Infinity" | "-Infinity")
                || (!t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                    && t.parse::<f64>().is_ok()));
    }

    /// What both could be.
    fn merge(&mut self, other: Class) {
        self.i64 &= other.i64;
        self.u64 &= other.u64;
        self.f64 &= other.f64;
        self.longest = self.longest.max(other.longest);
    }

    /// As text: `|S` wide enough for the longest value and a NUL, as cryosparc-tools writes.
    fn text(self) -> Kind {
        Kind::Bytes(self.longest + 1)
    }

    fn kind(self) -> Kind {
        if self.i64 {
            Kind::I64
        } else if self.u64 {
            Kind::U64
        } else if self.f64 {
            Kind::F64
        } else {
            self.text()
        }
    }
}

/// The fields a CSV header names: columns `x[i][j]` are elements of field `x`.
struct CsvColumns {
    /// Each field's name and shape, in order of first appearance.
    fields: Vec<(String, Vec<usize>)>,
    /// The field of each column.
    field_of_column: Vec<String>,
}

impl CsvColumns {
    fn of(headers: &[String]) -> Result<Self, Error> {
        let mut fields: Vec<(String, Vec<usize>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut field_of_column = Vec::with_capacity(headers.len());
        for h in headers {
            let (base, idx) = split_column_name(h);
            if let Some(i) = idx.iter().find(|&&i| i > MAX_CSV_INDEX) {
                return Err(Error::new(
                    Place::LineField {
                        line: 1,
                        field: base.to_string(),
                    },
                    format!(
                        "column '{h}': subarray index {i} is beyond {MAX_CSV_INDEX}, the last a .cs subarray can have"
                    ),
                ));
            }
            let k = *index.entry(base.to_string()).or_insert_with(|| {
                fields.push((base.to_string(), vec![0; idx.len()]));
                fields.len() - 1
            });
            let shape = &mut fields[k].1;
            if shape.len() != idx.len() {
                return Err(Error::new(
                    Place::Line(1),
                    format!("column '{h}' has a different number of indices than other '{base}' columns"),
                ));
            }
            for (d, i) in shape.iter_mut().zip(&idx) {
                *d = (*d).max(i + 1);
            }
            field_of_column.push(base.to_string());
        }
        Ok(CsvColumns {
            fields,
            field_of_column,
        })
    }
}

/// The fields of a CSV input when its header alone decides every dtype: each field is one of
/// cryoSPARC's (FORMATS.md §7) with its usual shape. Strings are `|O`: their width comes from
/// the data as it is converted. None for JSON-lines, or when any field must be inferred.
pub fn fields_from_header(reader: &RowReader) -> Result<Option<Vec<Field>>, Error> {
    let Inner::Csv(blocks) = &reader.inner else {
        return Ok(None);
    };
    let columns = CsvColumns::of(&blocks.headers).map_err(|e| e.in_file(&reader.name))?;
    let known = |(name, shape): &(String, Vec<usize>)| {
        let kind = known_kind(name, shape)?;
        Some(Field {
            name: name.clone(),
            ty: FieldType {
                kind: if kind.is_string() {
                    Kind::HeapStr
                } else {
                    kind
                },
                order: ByteOrder::Little,
                shape: shape.clone(),
            },
        })
    };
    Ok(columns.fields.iter().map(known).collect())
}

/// The dtype of one of cryoSPARC's fields (FORMATS.md §7) when `name` is one and has its
/// usual shape (strings: any string kind).
fn known_kind(name: &str, shape: &[usize]) -> Option<Kind> {
    known_field(name)
        .filter(|(_, known_shape)| known_shape == shape)
        .map(|(k, _)| k)
}

/// Infer the fields of an input: known cryoSPARC fields by name, others from their values.
pub fn infer_fields(reader: &mut RowReader) -> Result<Vec<Field>, Failure> {
    let name = reader.name.clone();
    let seen = match &mut reader.inner {
        Inner::Csv(blocks) => seen_in_csv(blocks, &name)?,
        Inner::Jsonl { rdr, line } => seen_in_jsonl(rdr, line, &name)?,
    };
    let fields = seen.into_fields();
    if fields.is_empty() {
        return Err(Error::in_whole_file("no columns in the input")
            .in_file(&name)
            .into());
    }
    Ok(fields)
}

/// What inference has seen of each field: its shape and what its values could be.
#[derive(Default)]
struct Seen {
    /// The fields' names, in order of first appearance.
    order: Vec<String>,
    /// Each field's shape and class.
    fields: HashMap<String, (Vec<usize>, Class)>,
}

impl Seen {
    /// A field seen for the first time.
    fn add(&mut self, name: &str, shape: Vec<usize>) {
        self.order.push(name.to_string());
        self.fields.insert(name.to_string(), (shape, Class::any()));
    }

    /// Class the values of one JSON-lines row (at line `at`); a key seen for the first time
    /// takes the shape of its value.
    fn see_object(&mut self, at: u64, text: &str) -> Result<(), Error> {
        let pairs = parse_object(text).map_err(|what| Error::new(Place::Line(at), what))?;
        for (key, raw) in pairs {
            if !self.fields.contains_key(key.as_ref()) {
                self.add(&key, json_shape(raw));
            }
            let Some(entry) = self.fields.get_mut(key.as_ref()) else {
                continue;
            };
            let mut elems = Vec::new();
            flatten(raw, &entry.0.clone(), &mut elems).map_err(|what| {
                Error::new(
                    Place::LineField {
                        line: at,
                        field: key.to_string(),
                    },
                    what,
                )
            })?;
            for e in &elems {
                entry.1.see(e);
            }
        }
        Ok(())
    }

    /// The fields, in order: a known field's dtype (text: as wide as its longest value), else
    /// what its values could be.
    fn into_fields(self) -> Vec<Field> {
        let mut fields = Vec::with_capacity(self.order.len());
        for n in self.order {
            let (shape, class) = &self.fields[&n];
            let kind = match known_kind(&n, shape) {
                Some(k) if k.is_string() => class.text(),
                Some(k) => k,
                None => class.kind(),
            };
            fields.push(Field {
                name: n,
                ty: FieldType {
                    kind,
                    order: ByteOrder::Little,
                    shape: shape.clone(),
                },
            });
        }
        fields
    }
}

/// The fields a CSV header names, each classed by the values of its columns.
fn seen_in_csv(blocks: &mut CsvBlocks, name: &str) -> Result<Seen, Failure> {
    let columns = CsvColumns::of(&blocks.headers).map_err(|e| e.in_file(name))?;
    let mut seen = Seen::default();
    for (base, shape) in &columns.fields {
        seen.add(base, shape.clone());
    }
    let col_field = columns.field_of_column;
    // A column of one of cryoSPARC's numeric fields takes the field's dtype whatever it
    // holds (a wrong value is reported when converted): only the others are classed.
    let classed: Vec<bool> = col_field
        .iter()
        .map(|base| known_kind(base, &seen.fields[base].0).is_none_or(Kind::is_string))
        .collect();
    let classes = column_classes(blocks, name, &classed)?;
    for (class, base) in classes.into_iter().zip(&col_field) {
        if let Some(e) = seen.fields.get_mut(base) {
            e.1.merge(class);
        }
    }
    Ok(seen)
}

/// Per CSV column, what its values could be (only `classed` columns are looked at): the pieces
/// of each block are classed in parallel, then merged.
fn column_classes(
    blocks: &mut CsvBlocks,
    name: &str,
    classed: &[bool],
) -> Result<Vec<Class>, Failure> {
    let mut batch = Batch::default();
    let mut classes = vec![Class::any(); classed.len()];
    loop {
        blocks.next_block(&mut batch, name)?;
        if batch.len == 0 {
            return Ok(classes);
        }
        let pieces: Vec<Result<Vec<Class>, Error>> = batch
            .pieces
            .par_iter()
            .map(|piece| piece_classes(&batch, piece, classed))
            .collect();
        for piece in pieces {
            let piece = piece.map_err(|e| e.in_file(name))?;
            for (all, p) in classes.iter_mut().zip(piece) {
                all.merge(p);
            }
        }
    }
}

/// What the values of each `classed` column of one piece of a batch could be.
fn piece_classes(batch: &Batch, piece: &Piece, classed: &[bool]) -> Result<Vec<Class>, Error> {
    let mut classes = vec![Class::any(); batch.n_columns];
    for_each_record(batch, piece, &mut |_, rec| {
        for ((class, text), _) in classes.iter_mut().zip(rec).zip(classed).filter(|(_, &c)| c) {
            class.see(text);
        }
        Ok(true)
    })?;
    Ok(classes)
}

/// The fields of a JSON-lines input in order of first appearance, each with the shape of its
/// first value, classed by all its values.
fn seen_in_jsonl(
    rdr: &mut BufReader<Box<dyn Read + Send>>,
    line: &mut u64,
    name: &str,
) -> Result<Seen, Failure> {
    let mut seen = Seen::default();
    loop {
        let mut text = String::new();
        if rdr
            .read_line(&mut text)
            .map_err(|e| cs_cli::io_failure(&e, Path::new(name)))?
            == 0
        {
            return Ok(seen);
        }
        *line += 1;
        if text.trim().is_empty() {
            continue;
        }
        seen.see_object(*line, &text).map_err(|e| e.in_file(name))?;
    }
}
