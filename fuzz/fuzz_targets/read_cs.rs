//! Fuzz the `.cs` reader: any bytes, read as a stream and as a file, must give rows or an
//! error, never a panic, a hang or an unbounded allocation.
#![no_main]

use cs_format::text::jsonl::{JsonOptions, JsonRowWriter};
use cs_format::Dataset;
use libfuzzer_sys::fuzz_target;

fn read_all(mut ds: Dataset) {
    let _ = ds.info();
    let Ok(mut chunks) = ds.every_field().chunks(1 << 16) else { return };
    let writer = JsonRowWriter::new(chunks.fields(), JsonOptions { int64_as_string: true });
    let mut out = Vec::new();
    while let Some(Ok(chunk)) = chunks.next_chunk() {
        out.clear();
        let _ = writer.write_rows(&chunk, 0..chunk.rows, &mut out);
        chunks.recycle(chunk);
    }
}

fuzz_target!(|data: &[u8]| {
    let reader: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(data.to_vec()));
    if let Ok(ds) = Dataset::from_reader(reader, "fuzz") {
        read_all(ds);
    }
    let dir = std::env::temp_dir().join(format!("csfuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.cs");
    if std::fs::write(&path, data).is_ok() {
        if let Ok(ds) = Dataset::open(&path, "fuzz") {
            read_all(ds);
        }
    }
});
