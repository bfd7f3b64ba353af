//! `events.bson`: a job's event log, BSON documents one after another (FORMATS.md §10), read
//! one document at a time and turned into relaxed extended JSON.

use crate::error::{Error, Result};
use serde_json::Value;
use std::io::Read;

/// Call `f` with every event of a log, in order, as relaxed extended JSON (`{"$oid": …}`,
/// `{"$date": …}`). Errors give the byte offset of the document that is bad.
pub fn for_each_event(mut input: impl Read, mut f: impl FnMut(Value) -> Result<()>) -> Result<u64> {
    let mut offset = 0u64;
    let mut count = 0u64;
    let mut doc = Vec::new();
    loop {
        let mut len = [0u8; 4];
        let got = read_upto(&mut input, &mut len)
            .map_err(|e| Error::io(&e, crate::Place::Byte(offset)))?;
        if got == 0 {
            return Ok(count);
        }
        if got < 4 {
            return Err(Error::at_byte(offset, "truncated document length"));
        }
        let n = u32::from_le_bytes(len) as usize;
        if n < 5 {
            return Err(Error::at_byte(
                offset,
                format!("document length {n} is too small"),
            ));
        }
        doc.clear();
        doc.extend_from_slice(&len);
        doc.resize(n, 0);
        let got = read_upto(&mut input, &mut doc[4..])
            .map_err(|e| Error::io(&e, crate::Place::Byte(offset)))?;
        if got < n - 4 {
            return Err(Error::at_byte(
                offset,
                format!("document of {n} bytes is truncated after {} bytes", got + 4),
            ));
        }
        let parsed = bson::Document::from_reader(&doc[..])
            .map_err(|e| Error::at_byte(offset, format!("not a BSON document: {e}")))?;
        f(bson::Bson::Document(parsed).into_relaxed_extjson())?;
        count += 1;
        offset += n as u64;
    }
}

fn read_upto(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Vec<u8> {
        let mut d = bson::Document::new();
        d.insert("type", "text");
        d.insert("text", text);
        let mut out = Vec::new();
        d.to_writer(&mut out).unwrap();
        out
    }

    #[test]
    fn reads_concatenated_documents() {
        let mut log = doc("one");
        log.extend(doc("two"));
        let mut seen = Vec::new();
        let n = for_each_event(&log[..], |v| {
            seen.push(v["text"].as_str().unwrap().to_string());
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(seen, ["one", "two"]);
    }

    #[test]
    fn a_truncated_document_names_its_offset() {
        let mut log = doc("one");
        let second = doc("two");
        let first_len = log.len() as u64;
        log.extend(&second[..second.len() - 3]);
        let e = for_each_event(&log[..], |_| Ok(())).unwrap_err();
        assert_eq!(e.place, crate::Place::Byte(first_len));
        assert!(e.what.contains("truncated"), "{}", e.what);
    }
}
