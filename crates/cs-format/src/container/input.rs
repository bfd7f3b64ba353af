//! Byte input with a position: a seekable file or a one-way stream (stdin).
//!
//! A file is read at positions (`pread`), never through the descriptor's shared offset, so
//! the same file can be read again from the start ([`Input::reopen`]) while it is being read.

use crate::error::{Error, Place, Result};
use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// Append a file's bytes from `from` to its end, by positioned reads.
fn read_file_to_end(f: &File, from: u64, v: &mut Vec<u8>) -> io::Result<usize> {
    let start = v.len();
    let mut block = vec![0u8; 1 << 16];
    loop {
        let at = from + (v.len() - start) as u64;
        match f.read_at(&mut block, at) {
            Ok(0) => return Ok(v.len() - start),
            Ok(n) => v.extend_from_slice(&block[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

enum Raw {
    File(File),
    Memory(Cursor<Vec<u8>>),
    Stream(Box<dyn Read + Send>),
}

/// A byte source that knows its position and, for files, its length.
pub(crate) struct Input {
    raw: Raw,
    pos: u64,
    len: Option<u64>,
}

impl Input {
    pub(crate) fn file(file: File, len: u64) -> Self {
        Input {
            raw: Raw::File(file),
            pos: 0,
            len: Some(len),
        }
    }

    /// Bytes already in memory, positioned at `pos`.
    pub(crate) fn memory(bytes: Vec<u8>, pos: u64) -> Self {
        let len = bytes.len() as u64;
        let mut cursor = Cursor::new(bytes);
        cursor.set_position(pos);
        Input {
            raw: Raw::Memory(cursor),
            pos,
            len: Some(len),
        }
    }

    /// The first bytes of a file of `len` bytes (its header, say), positioned at 0: reading
    /// past them fails as for a truncated file, while length checks see the whole file.
    pub(crate) fn head(bytes: Vec<u8>, len: u64) -> Self {
        let mut input = Self::memory(bytes, 0);
        input.len = Some(len);
        input
    }

    pub(crate) fn stream(reader: Box<dyn Read + Send>) -> Self {
        Input {
            raw: Raw::Stream(reader),
            pos: 0,
            len: None,
        }
    }

    /// The same input again from its start: a second descriptor of the file, or a copy of
    /// bytes in memory; `None` for a stream, which can be read once.
    pub(crate) fn reopen(&self) -> Option<io::Result<Self>> {
        match &self.raw {
            Raw::File(f) => Some(f.try_clone().map(|f| Input::file(f, self.len.unwrap_or(0)))),
            Raw::Memory(m) => Some(Ok(Input::memory(m.get_ref().clone(), 0))),
            Raw::Stream(_) => None,
        }
    }

    /// Current byte offset from the start of the input.
    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    /// Total length when the input is a file.
    pub(crate) fn len(&self) -> Option<u64> {
        self.len
    }

    pub(crate) fn is_seekable(&self) -> bool {
        !matches!(self.raw, Raw::Stream(_))
    }

    fn seek_raw(&mut self, to: u64) -> io::Result<u64> {
        match &mut self.raw {
            Raw::File(_) => Ok(to),
            Raw::Memory(m) => m.seek(SeekFrom::Start(to)),
            Raw::Stream(_) => Err(io::Error::other("cannot seek in a stream")),
        }
    }

    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let r = match &mut self.raw {
                Raw::File(f) => f.read_at(buf, self.pos),
                Raw::Memory(m) => m.read(buf),
                Raw::Stream(s) => s.read(buf),
            };
            match r {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Fill `buf` completely, or fail naming `what` was truncated and where the input ended.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let start = self.pos;
        let got = self.read_upto(buf)?;
        if got < buf.len() {
            return Err(Error::at_byte(
                start,
                format!(
                    "truncated inside {what}: needs {} bytes, the input ends at byte {}",
                    buf.len(),
                    start + got as u64
                ),
            ));
        }
        Ok(())
    }

    /// Read exactly `n` bytes without trusting `n` for the allocation up front
    /// (a corrupt length field must not allocate gigabytes before the input runs out).
    pub(crate) fn read_vec(&mut self, n: u64, what: &str) -> Result<Vec<u8>> {
        if let Some(len) = self.len {
            if self.pos.saturating_add(n) > len {
                return Err(Error::at_byte(
                    self.pos,
                    format!(
                        "truncated inside {what}: needs {n} bytes, the file ends at byte {len}"
                    ),
                ));
            }
            // A head of a file (`Input::head`) holds fewer bytes than its length.
            if let Raw::Memory(c) = &self.raw {
                let held = c.get_ref().len() as u64;
                if self.pos.saturating_add(n) > held {
                    return Err(Error::at_byte(
                        self.pos,
                        format!("{what} ({n} bytes) goes past the first {held} bytes read"),
                    ));
                }
            }
            let size = usize::try_from(n)
                .map_err(|_| Error::at_byte(self.pos, format!("{what} is too large")))?;
            let mut v = vec![0u8; size];
            self.read_exact(&mut v, what)?;
            return Ok(v);
        }
        let mut v = Vec::new();
        self.stream_blocks(n, what, |b| v.extend_from_slice(b))?;
        Ok(v)
    }

    /// Read up to `buf.len()` bytes; returns how many (0 only at the end).
    pub(crate) fn read_upto(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut got = 0;
        while got < buf.len() {
            let n = self
                .read_some(&mut buf[got..])
                .map_err(|e| Error::io(&e, Place::Byte(self.pos)))?;
            if n == 0 {
                break;
            }
            got += n;
            self.pos += n as u64;
        }
        Ok(got)
    }

    /// Replace `buf`'s contents with the next `n` bytes, or as many as the input still holds;
    /// returns how many. A file's (or memory's) buffer is sized at once, by no more than its
    /// length proves is there. A stream's is sized at once only within the capacity it already
    /// has (earned by bytes read before); beyond that it grows as bytes arrive, so a header that
    /// declares more than a stream holds costs only the bytes actually read.
    pub(crate) fn read_upto_vec(&mut self, n: usize, buf: &mut Vec<u8>) -> Result<usize> {
        let proven = match (self.len, &mut self.raw) {
            (Some(len), _) => usize::try_from(len.saturating_sub(self.pos)).map_or(n, |t| t.min(n)),
            (None, _) if buf.capacity() >= n => n,
            (None, Raw::Stream(s)) => {
                buf.clear();
                let r = s.by_ref().take(n as u64).read_to_end(buf);
                self.pos += buf.len() as u64;
                r.map_err(|e| Error::io(&e, Place::Byte(self.pos)))?;
                return Ok(buf.len());
            }
            (None, _) => 0, // only a stream has no length
        };
        // Bytes kept from the buffer's last use are overwritten: no zeroing pass.
        buf.resize(proven, 0);
        let got = self.read_upto(buf)?;
        buf.truncate(got);
        Ok(got)
    }

    /// Everything from here to the end of the input.
    pub(crate) fn read_rest(&mut self) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        let r = match &mut self.raw {
            Raw::File(f) => read_file_to_end(f, self.pos, &mut v),
            Raw::Memory(m) => m.read_to_end(&mut v),
            Raw::Stream(s) => s.read_to_end(&mut v),
        };
        r.map_err(|e| Error::io(&e, Place::Byte(self.pos)))?;
        self.pos += v.len() as u64;
        Ok(v)
    }

    /// Move forward by `n` bytes (seek on files, read and drop on streams).
    pub(crate) fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        if self.is_seekable() {
            let len = self.len.unwrap_or(u64::MAX);
            if self.pos.saturating_add(n) > len {
                return Err(Error::at_byte(
                    self.pos,
                    format!(
                        "truncated inside {what}: needs {n} bytes, the file ends at byte {len}"
                    ),
                ));
            }
            let to = self.pos + n;
            self.seek_raw(to)
                .map_err(|e| Error::io(&e, Place::Byte(self.pos)))?;
            self.pos = to;
            return Ok(());
        }
        self.stream_blocks(n, what, |_| {})
    }

    /// Read `n` bytes of a stream in blocks, handing each to `sink`.
    fn stream_blocks(&mut self, n: u64, what: &str, mut sink: impl FnMut(&[u8])) -> Result<()> {
        let start = self.pos;
        let mut left = n;
        let mut block = vec![0u8; 1 << 16];
        while left > 0 {
            let want = left.min(block.len() as u64) as usize;
            let got = self.read_upto(&mut block[..want])?;
            if got == 0 {
                return Err(Error::at_byte(
                    start,
                    format!(
                        "truncated inside {what}: needs {n} bytes, the input ends at byte {}",
                        self.pos
                    ),
                ));
            }
            sink(&block[..got]);
            left -= got as u64;
        }
        Ok(())
    }

    /// Fill `buf` from absolute offset `offset` of a seekable input, without moving the position.
    pub(crate) fn read_at(&mut self, offset: u64, buf: &mut [u8], what: &str) -> Result<()> {
        let len = buf.len();
        let short = || {
            Error::at_byte(
                offset,
                format!("truncated inside {what}: needs {len} bytes"),
            )
        };
        match &mut self.raw {
            Raw::File(f) => f.read_exact_at(buf, offset).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    short()
                } else {
                    Error::io(&e, Place::Byte(offset))
                }
            }),
            Raw::Memory(m) => {
                let data = m.get_ref();
                let start = usize::try_from(offset).map_err(|_| short())?;
                let src = data.get(start..start + len).ok_or_else(short)?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Raw::Stream(_) => Err(Error::at_byte(
                offset,
                "cannot read at an offset of a stream (internal error)",
            )),
        }
    }

    /// Jump to an absolute offset of a seekable input.
    pub(crate) fn seek_to(&mut self, offset: u64) -> Result<()> {
        if self.is_seekable() {
            self.seek_raw(offset)
                .map_err(|e| Error::io(&e, Place::Byte(offset)))?;
            self.pos = offset;
            Ok(())
        } else if offset >= self.pos {
            self.skip(offset - self.pos, "the data")
        } else {
            Err(Error::at_byte(
                offset,
                "cannot go back in a stream (internal error)",
            ))
        }
    }
}
