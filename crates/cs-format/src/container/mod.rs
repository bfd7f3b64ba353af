//! The bytes of a `.cs` file: the numpy `.npy` container (header, Python-literal dtype, records)
//! and CSDAT (`\x95CSDAT` and the legacy `\x94CSDAT`), field types, reading a file as a
//! [`Dataset`](dataset::Dataset) in chunks — all its fields or a
//! [`Projection`](projection::Projection) of them — and writing one.

pub(crate) mod csdat;
pub mod dataset;
pub(crate) mod dtype;
mod input;
pub mod known;
pub mod npy_header;
pub(crate) mod numpy;
pub mod projection;
pub(crate) mod pyliteral;
pub mod records;
pub mod writer;

pub use dtype::{ByteOrder, Field, FieldType, Kind, Schema};
