//! Where an unpacked archive goes: a free name in the folder it is placed in.

use std::path::{Path, PathBuf};

/// Where unpacked contents named `name` go in `folder`: `folder/name`, else the first free
/// `folder/name-2`, `name-3`, …
pub fn free_place(folder: &Path, name: &str) -> PathBuf {
    let mut place = folder.join(name);
    let mut k = 2;
    while std::fs::symlink_metadata(&place).is_ok() {
        place = folder.join(format!("{name}-{k}"));
        k += 1;
    }
    place
}
