//! Fuzz the `.csg` parser and writer: any text parses or fails cleanly, and whatever parses
//! is written back in cryoSPARC's layout to text that parses to the same group.
#![no_main]

use cs_format::project::csg::Csg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(csg) = Csg::parse(text) else { return };
    if !csg.unknown_keys().is_empty() {
        return;
    }
    let written = csg.to_yaml();
    let back = Csg::parse(&written).unwrap_or_else(|e| panic!("written text does not parse: {e}\n{written}"));
    assert_eq!(back, csg, "round trip changed the group:\n{written}");
});
