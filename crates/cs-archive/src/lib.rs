//! Archives as people make them (GNU tar, bsdtar, Python's tarfile, our own `job-pack tar`):
//! reading one safely, unpacking it, and placing the unpacked archive under a project's
//! `imports/`.
//!
//! - [`open`]: a tar stream from a file or standard input, plain or compressed (gzip, zstd,
//!   bzip2, xz, told apart by their first bytes);
//! - [`entries`]: every entry checked before anything is done with it ([`for_each_entry`]):
//!   plain relative names, nothing written through a link or over an earlier entry, no
//!   devices, no data shorter than its header says; links leading outside the archive refused
//!   or left out ([`LinksOut`]);
//! - [`unpack`]: the checked entries written into a folder ([`safe_unpack`]);
//! - [`place`]: an archive unpacked in a temporary folder beside its destination and moved to
//!   a free name there ([`Unpacked`]) — the one flow `job-pack import` and `proj-import` share;
//! - [`names`]: archive names as paths (normalised, staying inside, an archive's stem).
//!
//! A crate of its own rather than part of `cs-format`: reading archives needs `tar` and four
//! compression libraries (`flate2`, `zstd`, `bzip2`, `liblzma`, the last two with C or large
//! Rust sources), and `cs-format` is built by every converter and by the fuzz targets, which
//! need none of them. Like `cs-format` it has no process policy: errors are
//! [`cs_format::Error`] values naming the archive and the entry, and a caller that stops on a
//! signal says so through the `stop` callbacks.

#![warn(missing_docs)]

pub mod entries;
pub mod names;
pub mod open;
pub mod place;
pub mod unpack;

pub use entries::{for_each_entry, Entry, Kind, LinkLeftOut, LinksOut};
pub use names::{archive_stem, clean_relative, normalise, stays_inside};
pub use open::tar_reader;
pub use place::{free_place, MadeFolders, Placed, Unpacked};
pub use unpack::safe_unpack;

use cs_format::{Error, Place};
use std::path::Path;

/// An I/O error on `path`, naming it.
fn io_error(e: &std::io::Error, path: &Path) -> Error {
    Error::io(e, Place::File).in_file(&path.display().to_string())
}

/// An archive that cannot be read on (`name`: the archive as given).
fn tar_error(name: &str, e: &std::io::Error) -> Error {
    Error::in_whole_file(format!("bad archive: {e}")).in_file(name)
}
