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

/// True when `path` is a regular file that starts as a `.cs` file does (`\x93NUMPY`,
/// `\x95CSDAT` or the legacy `\x94CSDAT`). Reads 6 bytes; never opens a FIFO or a device.
pub fn starts_like_cs(path: &std::path::Path) -> bool {
    use std::io::Read;
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut magic = [0u8; 6];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    read.is_ok() && [numpy::MAGIC, csdat::MAGIC, csdat::LEGACY_MAGIC].contains(&&magic)
}
