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
}
