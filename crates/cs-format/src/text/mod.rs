//! Cells as text: the one spelling every tool shares (JSON-lines and CSV), parsing it back
//! ([`parse`], with SIMD decimals in `decimal16`), CSV layout, RELION STAR spelling, and the
//! parallel engine that spells rows in chunks ([`convert`]).

pub mod cell;
pub mod convert;
pub mod csv;
#[allow(unsafe_code)]
mod decimal16;
pub mod jsonl;
pub mod parse;
pub mod star;
