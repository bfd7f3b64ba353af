//! The cryoSPARC `.cs` format: both containers (numpy `.npy` and CSDAT), field types, and the
//! one spelling of cell values as text that every csutils tool shares.
//!
//! No printing, no argument parsing, no process exit: errors are values that say where the
//! problem is ([`Error`]).
//!
//! No `unsafe` but in the `decimal16` module (SIMD decimal reading, a measured gain; each use
//! has a `SAFETY:` note).
#![deny(unsafe_code)]

pub mod cell;
pub mod clear;
pub mod csdat;
pub mod csg;
pub mod csv;
pub mod dataset;
#[allow(unsafe_code)]
mod decimal16;
pub mod dtype;
pub mod error;
pub mod events;
mod input;
pub mod job;
pub mod join;
pub mod jsonl;
pub mod known;
pub mod limits;
pub mod npy_header;
pub mod numpy;
pub mod parse;
pub mod project;
pub mod pyliteral;
pub mod records;
pub mod select;
pub mod star;
pub mod temp;
pub mod timestamp;
pub mod uids;
pub mod walk;
pub mod writer;

pub use dataset::{Chunk, Chunks, Container, Dataset};
pub use dtype::{ByteOrder, Field, FieldType, Kind, Schema};
pub use error::{Error, Place, Result};
