//! Reading CSV or JSON-lines rows into the cells of a target schema, and inferring a schema.
//!
//! - [`batches`]: the input cut into batches of whole rows (CSV: 4 MB blocks ending on record
//!   boundaries, in pieces converted in parallel; JSON-lines: lines), and the header row.
//! - [`csv_records`]: the records of a CSV piece (split at delimiters where the text holds no
//!   quote, else by the CSV parser), each checked against the header's column count.
//! - [`json_objects`]: the keys and element texts of a JSON-lines row.
//! - [`convert`]: [`Target`], the fields being written: rows into cells or into records of a
//!   layout, with errors naming the line and field.
//! - [`plain_csv`]: the one-pass path for quote-free CSV (numbers parsed where they stand).
//! - [`infer`]: the fields of an input without `--like` or `--schema`: from a header of known
//!   fields, else from the values.

mod batches;
mod convert;
mod csv_records;
mod infer;
mod json_objects;
mod plain_csv;

pub use batches::{Batch, InputKind, RowReader};
pub use convert::Target;
pub use infer::{fields_from_header, infer_fields};
