//! Reading CSV or JSON-lines rows into the cells of a target schema, and inferring a schema.

use cs_cli::Failure;
use cs_format::csv::split_column_name;
use cs_format::known::known_field;
use cs_format::parse::element_from_text;
use cs_format::writer::push_string_element;
use cs_format::{ByteOrder, Error, Field, FieldType, Kind, Place};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

/// Input syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Csv,
    Jsonl,
}

/// The fields rows are converted to, and where each element goes.
pub struct Target {
    fields: Vec<Field>,
    index: HashMap<String, usize>,
    /// First slot of each field; a field has `count()` slots.
    starts: Vec<usize>,
    total: usize,
}

impl Target {
    pub fn new(fields: Vec<Field>) -> Self {
        let index = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        let mut starts = Vec::with_capacity(fields.len());
        let mut total = 0;
        for f in &fields {
            starts.push(total);
            total += f.ty.count();
        }
        Target {
            fields,
            index,
            starts,
            total,
        }
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The slot of a flattened CSV column name (`pose[1]`).
    fn slot_of_column(&self, column: &str) -> Result<usize, String> {
        if let Some(&i) = self.index.get(column) {
            if self.fields[i].ty.shape.is_empty() {
                return Ok(self.starts[i]);
            }
            return Err(format!(
                "column '{column}' is a subarray of shape {:?}: expected one column per element ({column}[0], …)",
                self.fields[i].ty.shape
            ));
        }
        let (base, idx) = split_column_name(column);
        let Some(&i) = self.index.get(base) else {
            return Err(format!(
                "column '{column}' is not one of the fields being written"
            ));
        };
        let shape = &self.fields[i].ty.shape;
        if idx.len() != shape.len() || idx.iter().zip(shape).any(|(&k, &d)| k >= d) {
            return Err(format!(
                "column '{column}' does not fit field '{base}' of shape {shape:?}"
            ));
        }
        let flat = idx.iter().zip(shape).fold(0, |acc, (&k, &d)| acc * d + k);
        Ok(self.starts[i] + flat)
    }

    /// The field and element of a slot, for messages.
    fn field_of_slot(&self, slot: usize) -> &Field {
        let i = self
            .starts
            .partition_point(|&s| s <= slot)
            .saturating_sub(1);
        &self.fields[i]
    }

    /// Convert a row into cells (numbers little-endian; strings as (length, UTF-8)), taking
    /// each slot's text from `text_of` (None: missing).
    fn cells<'t>(
        &self,
        line: u64,
        cells: &mut Vec<Vec<u8>>,
        text_of: impl Fn(usize) -> Option<Result<&'t str, String>>,
    ) -> Result<(), Error> {
        cells.resize(self.fields.len(), Vec::new());
        for (i, f) in self.fields.iter().enumerate() {
            let cell = &mut cells[i];
            cell.clear();
            let place = || Place::LineField {
                line,
                field: f.name.clone(),
            };
            for e in 0..f.ty.count() {
                let text = text_of(self.starts[i] + e)
                    .ok_or_else(|| Error::new(place(), missing(f, e)))?
                    .map_err(|what| Error::new(place(), what))?;
                if f.ty.kind.is_string() {
                    push_string_element(cell, text.as_bytes());
                } else {
                    element_from_text(f.ty.kind, text, cell)
                        .map_err(|what| Error::new(place(), with_int64_hint(f, text, what)))?;
                }
            }
        }
        Ok(())
    }
}

fn missing(f: &Field, e: usize) -> String {
    if f.ty.shape.is_empty() {
        "missing from the input".to_string()
    } else {
        format!(
            "element {e} of the {:?} subarray is missing from the input",
            f.ty.shape
        )
    }
}

/// A 64-bit integer spelled like a rounded double is almost always jq 1.6 at work: say so.
fn with_int64_hint(f: &Field, text: &str, what: String) -> String {
    if f.ty.kind.is_int64() && text.trim().parse::<f64>().is_ok() && text.contains(['e', 'E', '.'])
    {
        format!(
            "{what}; a JSON tool that reads numbers as doubles (jq 1.6) rounds 64-bit integers — \
             print them with cs-cat --int64-as-string"
        )
    } else {
        what
    }
}

enum Inner {
    Csv {
        rdr: csv::Reader<BufReader<Box<dyn Read + Send>>>,
        headers: Vec<String>,
    },
    Jsonl {
        rdr: BufReader<Box<dyn Read + Send>>,
        line: u64,
    },
}

/// Rows of a CSV or JSON-lines input.
pub struct RowReader {
    name: String,
    inner: Inner,
}

/// Rows read but not yet converted (reused from batch to batch).
#[derive(Default)]
pub struct Batch {
    /// CSV records and, per slot of the target, the column that holds it.
    records: Vec<csv::StringRecord>,
    columns: Option<Vec<usize>>,
    /// JSON-lines: (line number, text).
    lines: Vec<(u64, String)>,
    len: usize,
}

impl Batch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.len
    }
}

fn io_failure(e: &std::io::Error, name: &str) -> Failure {
    Error::io(e, Place::File).in_file(name).into()
}

fn csv_failure(e: csv::Error, name: &str) -> Failure {
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let what = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} columns where the header has {expected_len}")
        }
        _ => e.to_string(),
    };
    Error::new(Place::Line(line), what).in_file(name).into()
}

impl RowReader {
    /// Open an input; `kind` None detects it (first non-blank byte `{` means JSON-lines).
    pub fn new(
        read: Box<dyn Read + Send>,
        kind: Option<InputKind>,
        delimiter: u8,
        name: &str,
    ) -> Result<Self, Failure> {
        let mut rdr = BufReader::with_capacity(1 << 20, read);
        let kind = match kind {
            Some(k) => k,
            None => {
                let head = rdr.fill_buf().map_err(|e| io_failure(&e, name))?;
                let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
                match head.iter().find(|b| !b.is_ascii_whitespace()) {
                    // An empty input has no rows (and, as JSON-lines, needs no header).
                    Some(b'{') | None => InputKind::Jsonl,
                    _ => InputKind::Csv,
                }
            }
        };
        let inner = match kind {
            InputKind::Jsonl => Inner::Jsonl { rdr, line: 0 },
            InputKind::Csv => {
                let mut csv = csv::ReaderBuilder::new()
                    .delimiter(delimiter)
                    .has_headers(true)
                    .buffer_capacity(1 << 20)
                    .from_reader(rdr);
                let headers: Vec<String> = csv
                    .headers()
                    .map_err(|e| csv_failure(e, name))?
                    .iter()
                    .map(|h| h.trim_start_matches('\u{feff}').to_string())
                    .collect();
                if headers.iter().all(|h| h.is_empty()) {
                    return Err(Error::new(Place::Line(1), "no header row")
                        .in_file(name)
                        .into());
                }
                Inner::Csv { rdr: csv, headers }
            }
        };
        Ok(RowReader {
            name: name.to_string(),
            inner,
        })
    }

    /// Read up to `n` rows into `batch`; returns how many (0 at the end).
    pub fn read_batch(
        &mut self,
        target: &Target,
        n: usize,
        batch: &mut Batch,
    ) -> Result<usize, Failure> {
        let name = self.name.clone();
        batch.len = 0;
        match &mut self.inner {
            Inner::Csv { rdr, headers } => {
                if batch.columns.is_none() {
                    batch.columns = Some(csv_columns(target, headers).map_err(|what| {
                        Failure::from(Error::new(Place::Line(1), what).in_file(&name))
                    })?);
                }
                while batch.len < n {
                    if batch.records.len() == batch.len {
                        batch.records.push(csv::StringRecord::new());
                    }
                    if !rdr
                        .read_record(&mut batch.records[batch.len])
                        .map_err(|e| csv_failure(e, &name))?
                    {
                        break;
                    }
                    batch.len += 1;
                }
            }
            Inner::Jsonl { rdr, line } => {
                while batch.len < n {
                    if batch.lines.len() == batch.len {
                        batch.lines.push((0, String::new()));
                    }
                    let slot = &mut batch.lines[batch.len];
                    slot.1.clear();
                    let got = rdr.read_line(&mut slot.1).map_err(|e| {
                        if e.kind() == std::io::ErrorKind::InvalidData {
                            Failure::from(
                                Error::new(Place::Line(*line + 1), "invalid UTF-8").in_file(&name),
                            )
                        } else {
                            io_failure(&e, &name)
                        }
                    })?;
                    if got == 0 {
                        break;
                    }
                    *line += 1;
                    slot.0 = *line;
                    if !slot.1.trim().is_empty() {
                        batch.len += 1;
                    }
                }
            }
        }
        Ok(batch.len)
    }
}

/// For each slot of `target`, the CSV column that holds it.
fn csv_columns(target: &Target, headers: &[String]) -> Result<Vec<usize>, String> {
    let mut columns = vec![usize::MAX; target.total];
    for (c, h) in headers.iter().enumerate() {
        let slot = target.slot_of_column(h)?;
        if columns[slot] != usize::MAX {
            return Err(format!("column '{h}' appears twice"));
        }
        columns[slot] = c;
    }
    if let Some(slot) = columns.iter().position(|&c| c == usize::MAX) {
        let f = target.field_of_slot(slot);
        return Err(format!("field '{}' is missing from the input", f.name));
    }
    Ok(columns)
}

impl Target {
    /// Convert row `i` of a batch into cells; returns its line number.
    pub fn convert(&self, batch: &Batch, i: usize, cells: &mut Vec<Vec<u8>>) -> Result<u64, Error> {
        if let Some(columns) = &batch.columns {
            let rec = &batch.records[i];
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            self.cells(line, cells, |slot| rec.get(columns[slot]).map(Ok))?;
            return Ok(line);
        }
        let (line, text) = &batch.lines[i];
        let pairs = parse_object(text).map_err(|what| Error::new(Place::Line(*line), what))?;
        let mut slots: Vec<Option<String>> = vec![None; self.total];
        for (key, raw) in pairs {
            let Some(&f) = self.index.get(key.as_str()) else {
                return Err(Error::new(
                    Place::Line(*line),
                    format!("key '{key}' is not one of the fields being written"),
                ));
            };
            let field = &self.fields[f];
            let mut elems = Vec::with_capacity(field.ty.count());
            flatten(raw, &field.ty.shape, &mut elems).map_err(|what| {
                Error::new(
                    Place::LineField {
                        line: *line,
                        field: field.name.clone(),
                    },
                    what,
                )
            })?;
            let start = self.starts[f];
            if slots[start].is_some() {
                return Err(Error::new(
                    Place::Line(*line),
                    format!("key '{key}' appears twice"),
                ));
            }
            for (k, e) in elems.into_iter().enumerate() {
                slots[start + k] = Some(e);
            }
        }
        self.cells(*line, cells, |slot| slots[slot].as_deref().map(Ok))?;
        Ok(*line)
    }
}

/// One JSON object's keys and raw values, in order.
fn parse_object(line: &str) -> Result<Vec<(String, &RawValue)>, String> {
    struct ObjectVisitor;
    impl<'de> Visitor<'de> for ObjectVisitor {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut v = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                v.push((k, map.next_value::<&RawValue>()?));
            }
            Ok(v)
        }
    }
    let mut de = serde_json::Deserializer::from_str(line);
    let v = de
        .deserialize_map(ObjectVisitor)
        .map_err(|e| format!("not a JSON object: {e}"))?;
    de.end()
        .map_err(|e| format!("text after the JSON object: {e}"))?;
    Ok(v)
}

/// The element texts of a (possibly nested) JSON value for a field of this shape.
fn flatten(raw: &RawValue, shape: &[usize], out: &mut Vec<String>) -> Result<(), String> {
    let Some((&n, inner)) = shape.split_first() else {
        let s = raw.get();
        out.push(if s.starts_with('"') {
            serde_json::from_str::<String>(s).map_err(|e| e.to_string())?
        } else {
            s.to_string()
        });
        return Ok(());
    };
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        format!(
            "expected a subarray of shape {shape:?}, found {}",
            short(raw.get())
        )
    })?;
    if items.len() != n {
        return Err(format!(
            "subarray has {} elements where its dtype needs {n} (shape {shape:?})",
            items.len()
        ));
    }
    for item in items {
        flatten(item, inner, out)?;
    }
    Ok(())
}

fn short(s: &str) -> String {
    let t: String = s.chars().take(40).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// What the values of an unknown field could be.
#[derive(Debug, Clone, Copy)]
struct Class {
    i64: bool,
    u64: bool,
    f64: bool,
}

impl Class {
    fn any() -> Self {
        Class {
            i64: true,
            u64: true,
            f64: true,
        }
    }

    fn see(&mut self, text: &str) {
        let t = text.trim();
        let t = t
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(t);
        self.i64 &= t.parse::<i64>().is_ok();
        self.u64 &= t.parse::<u64>().is_ok();
        self.f64 &= matches!(t, "NaN" | "Infinity" | "-Infinity")
            || (!t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
                && t.parse::<f64>().is_ok());
    }

    fn kind(self) -> Kind {
        if self.i64 {
            Kind::I64
        } else if self.u64 {
            Kind::U64
        } else if self.f64 {
            Kind::F64
        } else {
            Kind::HeapStr
        }
    }
}

/// Infer the fields of an input: known cryoSPARC fields by name, others from their values.
pub fn infer_fields(reader: &mut RowReader) -> Result<Vec<Field>, Failure> {
    // name → (shape, class), in order of first appearance
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashMap<String, (Vec<usize>, Class)> = HashMap::new();
    let name = reader.name.clone();
    match &mut reader.inner {
        Inner::Csv { rdr, headers } => {
            let mut record = csv::StringRecord::new();
            let record = &mut record;
            let mut col_field = Vec::new();
            for h in headers.iter() {
                let (base, idx) = split_column_name(h);
                let entry = seen.entry(base.to_string()).or_insert_with(|| {
                    order.push(base.to_string());
                    (vec![0; idx.len()], Class::any())
                });
                if entry.0.len() != idx.len() {
                    return Err(Error::new(Place::Line(1), format!("column '{h}' has a different number of indices than other '{base}' columns"))
                        .in_file(&name)
                        .into());
                }
                for (d, k) in entry.0.iter_mut().zip(&idx) {
                    *d = (*d).max(k + 1);
                }
                col_field.push(base.to_string());
            }
            while rdr.read_record(record).map_err(|e| csv_failure(e, &name))? {
                for (text, base) in record.iter().zip(&col_field) {
                    if let Some(e) = seen.get_mut(base) {
                        e.1.see(text);
                    }
                }
            }
        }
        Inner::Jsonl { rdr, line } => loop {
            let mut text = String::new();
            let buf = &mut text;
            buf.clear();
            if rdr.read_line(buf).map_err(|e| io_failure(&e, &name))? == 0 {
                break;
            }
            *line += 1;
            if buf.trim().is_empty() {
                continue;
            }
            let at = *line;
            let pairs = parse_object(buf)
                .map_err(|what| Error::new(Place::Line(at), what).in_file(&name))?;
            for (key, raw) in pairs {
                let entry = seen.entry(key.clone()).or_insert_with(|| {
                    order.push(key.clone());
                    (json_shape(raw), Class::any())
                });
                let mut elems = Vec::new();
                flatten(raw, &entry.0.clone(), &mut elems).map_err(|what| {
                    Error::new(
                        Place::LineField {
                            line: at,
                            field: key.clone(),
                        },
                        what,
                    )
                    .in_file(&name)
                })?;
                for e in &elems {
                    entry.1.see(e);
                }
            }
        },
    }
    let mut fields = Vec::with_capacity(order.len());
    for n in order {
        let (shape, class) = &seen[&n];
        let kind = match known_field(&n) {
            Some((k, known_shape)) if known_shape == *shape => {
                if k.is_string() {
                    Kind::HeapStr
                } else {
                    k
                }
            }
            _ => class.kind(),
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
    if fields.is_empty() {
        return Err(Error::in_whole_file("no columns in the input")
            .in_file(&name)
            .into());
    }
    Ok(fields)
}

/// The nested-array shape of a JSON value (`[]` for a scalar).
fn json_shape(raw: &RawValue) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut cur: Option<Vec<&RawValue>> = serde_json::from_str(raw.get()).ok();
    while let Some(items) = cur {
        if items.is_empty() || shape.len() == 3 {
            break;
        }
        shape.push(items.len());
        cur = serde_json::from_str(items[0].get()).ok();
    }
    shape
}
