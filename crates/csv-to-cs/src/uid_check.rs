//! The `--like` uid check: every uid written must be one of the template's. The template's
//! uids are read on a thread of their own while the input is converted; records converted
//! before they are ready wait in a backlog (line and uid only) and are checked once they are.

use cs_format::ops::uids::OrderedUids;
use cs_format::{Dataset, Error, Place};
use std::thread::JoinHandle;

/// Reading a template's uids: None when the template has no uid field.
type Loading = JoinHandle<Result<Option<OrderedUids>, Error>>;

/// The uids of a template, being read or read.
pub struct TemplateUids {
    name: String,
    loading: Option<Loading>,
    /// Once read (None inside: the template has no uid field).
    known: Option<Option<OrderedUids>>,
    /// (line, uid) of rows converted before the uids were read, in input order.
    backlog: Vec<(u64, u64)>,
}

impl TemplateUids {
    /// Start reading the uids of `template` (called `name` in messages).
    pub fn load(template: Dataset, name: &str) -> Self {
        let loading = std::thread::spawn(move || {
            let mut uids = Vec::with_capacity(template.rows().min(1 << 26) as usize);
            Ok(template
                .for_each_uid(|v| uids.push(v))?
                .then(|| OrderedUids::new(uids)))
        });
        TemplateUids {
            name: name.to_string(),
            loading: Some(loading),
            known: None,
            backlog: Vec::new(),
        }
    }

    /// The uids when read (waiting for them when `wait`), checking the backlog on arrival.
    fn ready(&mut self, wait: bool) -> Result<bool, Error> {
        if self.known.is_none() {
            match self.loading.take() {
                Some(l) if wait || l.is_finished() => {
                    let known = l.join().map_err(|_| {
                        Error::in_whole_file("the thread reading uids failed").in_file(&self.name)
                    })??;
                    self.known = Some(known);
                    let backlog = std::mem::take(&mut self.backlog);
                    self.check_known(backlog.into_iter())?;
                }
                other => self.loading = other,
            }
        }
        Ok(self.known.is_some())
    }

    fn check_known(&mut self, rows: impl Iterator<Item = (u64, u64)>) -> Result<(), Error> {
        let Some(Some(known)) = &mut self.known else {
            return Ok(());
        };
        for (line, uid) in rows {
            if !known.contains(uid) {
                return Err(self.unknown(line, uid));
            }
        }
        Ok(())
    }

    /// Check the (line, uid) of rows, in input order: now if the uids are read, else later.
    pub fn check(&mut self, rows: impl Iterator<Item = (u64, u64)>) -> Result<(), Error> {
        if self.ready(false)? {
            self.check_known(rows)
        } else {
            self.backlog.extend(rows);
            Ok(())
        }
    }

    /// Wait for the uids and check every row still waiting.
    pub fn finish(&mut self) -> Result<(), Error> {
        self.ready(true).map(|_| ())
    }

    fn unknown(&self, line: u64, uid: u64) -> Error {
        Error::new(
            Place::LineField {
                line,
                field: "uid".into(),
            },
            format!(
                "uid {uid} is not in {}; a JSON tool that reads numbers as doubles \
                 (jq 1.6) rounds uids above 2^53 — print them with cs-cat --int64-as-string — \
                 or give --new-uids if these rows are new",
                self.name
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a panic is a failed test
    use super::*;
    use std::io::Read;
    use std::sync::mpsc::{channel, Receiver};

    /// A stream that hands out blocks as a test sends them (and ends when the sender goes).
    struct Blocks(Receiver<Vec<u8>>, Vec<u8>);

    impl Read for Blocks {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1.is_empty() {
                match self.0.recv() {
                    Ok(b) => self.1 = b,
                    Err(_) => return Ok(0),
                }
            }
            let n = buf.len().min(self.1.len());
            buf[..n].copy_from_slice(&self.1[..n]);
            self.1.drain(..n);
            Ok(n)
        }
    }

    /// A numpy file of `uids` (one `<u8` field), as header and data.
    fn uid_file(uids: &[u64]) -> (Vec<u8>, Vec<u8>) {
        let fields = vec![cs_format::Field {
            name: "uid".into(),
            ty: cs_format::FieldType {
                kind: cs_format::Kind::U64,
                order: cs_format::ByteOrder::Little,
                shape: vec![],
            },
        }];
        let header = cs_format::container::npy_header::npy_prefix(&fields, uids.len() as u64);
        (header, uids.iter().flat_map(|u| u.to_le_bytes()).collect())
    }

    #[test]
    fn rows_checked_before_the_uids_are_read_are_checked_when_they_are() {
        let (header, data) = uid_file(&[10, 20, 30]);
        let (send, blocks) = channel();
        send.send(header).unwrap();
        let ds = Dataset::from_reader(Box::new(Blocks(blocks, Vec::new())), "t.cs").unwrap();
        let mut uids = TemplateUids::load(ds, "t.cs");
        // The uids are not read yet: these wait.
        uids.check([(2, 10), (3, 99), (4, 98)].into_iter()).unwrap();
        assert_eq!(uids.backlog.len(), 3);
        send.send(data).unwrap();
        drop(send);
        let e = uids.finish().unwrap_err().to_string();
        assert!(
            e.contains("line 3, field uid: uid 99 is not in t.cs"),
            "{e}"
        );
    }

    #[test]
    fn rows_checked_after_the_uids_are_read_are_checked_at_once() {
        let (header, data) = uid_file(&[10, 20, 30]);
        let (send, blocks) = channel();
        send.send(header).unwrap();
        send.send(data).unwrap();
        drop(send);
        let ds = Dataset::from_reader(Box::new(Blocks(blocks, Vec::new())), "t.cs").unwrap();
        let mut uids = TemplateUids::load(ds, "t.cs");
        uids.finish().unwrap();
        uids.check([(2, 10), (3, 30)].into_iter()).unwrap();
        let e = uids.check([(7, 31)].into_iter()).unwrap_err().to_string();
        assert!(
            e.contains("line 7, field uid: uid 31 is not in t.cs"),
            "{e}"
        );
    }
}
