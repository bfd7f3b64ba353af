//! The cryoSPARC `.cs` format: both containers (numpy `.npy` and CSDAT), field types, and the
//! one spelling of cell values as text that every csutils tool shares.
//!
//! No printing, no argument parsing, no process exit: errors are values that say where the
//! problem is ([`Error`]).
//!
//! The crate is in layers, each a folder:
//! - [`container`]: the bytes of a `.cs` file — numpy `.npy` and CSDAT, their dtypes, reading
//!   ([`Dataset`], some of its fields as a [`Projection`]) and writing;
//! - [`text`]: the one spelling of a cell as text (JSON-lines, CSV) and parsing it back; STAR;
//!   the parallel engine that spells a projection's rows ([`text::convert`]);
//! - [`project`]: the project on disk — job.json, project.json, `.csg`, events, layout, walks,
//!   clearing intermediate results;
//! - [`ops`]: operations on datasets — field selection (`-f` patterns into a [`Projection`]), joins, uid sets;
//!
//! and beside them [`error`] (errors that say where), [`limits`] (bounds every reader keeps) and
//! [`temp`] (named temporary files beside what they become).
//!
//! No `unsafe` but in the `text::decimal16` module (SIMD decimal reading, a measured gain; each use
//! has a `SAFETY:` note).
#![deny(unsafe_code)]

pub mod container;
pub mod error;
pub mod limits;
pub mod ops;
pub mod project;
pub mod temp;
pub mod text;

pub use container::dataset::{Chunk, Chunks, Container, Dataset, CHUNK_BYTES};
pub use container::projection::Projection;
pub use container::{ByteOrder, Field, FieldType, Kind, Schema};
pub use error::{Error, Place, Result};
