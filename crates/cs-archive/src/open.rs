//! A tar stream from a file or standard input, decompressed by its first bytes.

use crate::{io_error, tar_error};
use cs_format::Error;
use std::io::Read;
use std::path::Path;

/// Open a tar file, or standard input for `-`, decompressing by its first bytes (gzip, zstd,
/// bzip2, xz; anything else is read as a plain tar).
pub fn tar_reader(src: &str) -> Result<Box<dyn Read>, Error> {
    let raw: Box<dyn Read> = if src == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(src).map_err(|e| io_error(&e, Path::new(src)))?;
        Box::new(f)
    };
    let mut buffered = std::io::BufReader::with_capacity(1 << 20, raw);
    let head = std::io::BufRead::fill_buf(&mut buffered)
        .map_err(|e| io_error(&e, Path::new(src)))?
        .to_vec();
    Ok(match compression_of(&head) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| tar_error(src, &e))?,
        ),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(buffered)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(buffered)),
        Compression::None => Box::new(buffered),
    })
}

/// How a stream is compressed, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d)) {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else {
        Compression::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressions_are_told_apart_by_their_first_bytes() {
        assert_eq!(compression_of(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(compression_of(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(compression_of(b"BZh91AY&SY"), Compression::Bzip2);
        assert_eq!(compression_of(b"BZhx"), Compression::None);
        assert_eq!(compression_of(b"\xfd7zXZ\0\0"), Compression::Xz);
        assert_eq!(compression_of(b"./P47/"), Compression::None);
    }
}
