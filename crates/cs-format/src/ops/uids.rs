//! Sets of 64-bit uids: one multiplication as the hash (uids are random or small integers),
//! so a lookup is one cache miss, not a cryptographic hash and a binary search.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for u64 keys: Fibonacci hashing.
#[derive(Debug, Default, Clone, Copy)]
pub struct UidHasher(u64);

impl Hasher for UidHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A set of uids.
pub type UidSet = HashSet<u64, BuildHasherDefault<UidHasher>>;

/// A map from uids.
pub type UidMap<V> = std::collections::HashMap<u64, V, BuildHasherDefault<UidHasher>>;

/// The uids of a file in file order, answering "is this uid one of them?". Inputs derived from
/// the file (a round trip, a filtered subset) mostly ask in file order, so a cursor walking the
/// list answers them without hashing; anything else is answered by a set built on first need.
#[derive(Debug, Default)]
pub struct OrderedUids {
    uids: Vec<u64>,
    cursor: usize,
    set: Option<UidSet>,
}

impl OrderedUids {
    /// How far past the cursor a uid is looked for before the set is asked.
    const LOOK_AHEAD: usize = 16;

    /// The uids, in file order.
    pub fn new(uids: Vec<u64>) -> Self {
        OrderedUids {
            uids,
            cursor: 0,
            set: None,
        }
    }

    /// Whether `uid` is one of the uids.
    pub fn contains(&mut self, uid: u64) -> bool {
        let ahead = self.uids.get(self.cursor..).unwrap_or_default();
        if let Some(k) = ahead.iter().take(Self::LOOK_AHEAD).position(|&u| u == uid) {
            self.cursor += k + 1;
            return true;
        }
        let uids = &self.uids;
        self.set
            .get_or_insert_with(|| {
                let mut set = UidSet::with_capacity_and_hasher(uids.len(), Default::default());
                set.extend(uids.iter().copied());
                set
            })
            .contains(&uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_extreme_and_sequential_uids() {
        let mut s = UidSet::default();
        for u in [0u64, 1, 2, 1 << 63, u64::MAX] {
            s.insert(u);
        }
        for u in 3..10_000u64 {
            s.insert(u);
        }
        assert!(s.contains(&0) && s.contains(&u64::MAX) && s.contains(&9999));
        assert!(!s.contains(&10_000) && !s.contains(&(u64::MAX - 1)));
    }

    #[test]
    fn ordered_uids_answer_in_order_out_of_order_and_absent() {
        let uids: Vec<u64> = (0..1000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let mut o = OrderedUids::new(uids.clone());
        // A subset in order, then the whole list backwards, then absent uids.
        assert!(uids.iter().step_by(7).all(|&u| o.contains(u)));
        assert!(uids.iter().rev().all(|&u| o.contains(u)));
        assert!(!o.contains(1) && !o.contains(u64::MAX));
        let mut empty = OrderedUids::new(Vec::new());
        assert!(!empty.contains(0));
    }
}
