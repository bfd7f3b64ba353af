//! Reading archives safely: a tar stream (plain, gzip or zstd, told apart by their first
//! bytes) unpacked into a folder with every entry checked before anything is written.

use crate::Failure;
use cs_format::{Error, Place};
use std::io::Read;
use std::path::{Component, Path};

/// A path from an archive or a `.csg`: relative, plain components only.
pub fn clean_relative(p: &Path) -> bool {
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// True when `target` (a link's text, relative to the link's folder `link_dir_rel` inside the
/// archived folder) stays inside it.
pub fn stays_inside(link_dir_rel: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = link_dir_rel
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// Unpack a tar stream into `root` (an empty temporary folder), refusing anything that would
/// write outside it: `..` or absolute names, links (symbolic or hard) that leave it, names that
/// pass through a link, devices and fifos, and entries whose data is short.
pub fn safe_unpack(input: impl Read, root: &Path, name: &str) -> Result<(), Failure> {
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| tar_err(name, &e))?;
    for entry in entries {
        crate::signals::stop_if_signalled()?;
        let mut entry = entry.map_err(|e| tar_err(name, &e))?;
        let path = entry.path().map_err(|e| tar_err(name, &e))?.into_owned();
        let shown_path = path.display().to_string();
        let refuse = |what: &str| -> Failure {
            Error::new(Place::Key(shown_path.clone()), what.to_string())
                .in_file(name)
                .into()
        };
        if !clean_relative(&path) {
            return Err(refuse("refused: an absolute name or one with '..'"));
        }
        // No component on the way may be a symlink (a link followed by a path through it).
        let mut at = root.to_path_buf();
        let parts: Vec<_> = path.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            at.push(c);
            if let Ok(md) = std::fs::symlink_metadata(&at) {
                if !md.is_dir() {
                    return Err(refuse("refused: the name passes through a link or a file"));
                }
            }
        }
        let dest = root.join(&path);
        if std::fs::symlink_metadata(&dest).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(refuse("refused: it would write through a link"));
        }
        let parent_rel = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let kind = entry.header().entry_type();
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| crate::io_failure(&e, parent))?;
        }
        match kind {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&dest).map_err(|e| crate::io_failure(&e, &dest))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.header().size().map_err(|e| tar_err(name, &e))?;
                let mut f =
                    std::fs::File::create(&dest).map_err(|e| crate::io_failure(&e, &dest))?;
                let copied = std::io::copy(&mut entry, &mut f).map_err(|e| tar_err(name, &e))?;
                if copied != size {
                    return Err(refuse(&format!(
                        "refused: {copied} bytes where the header says {size}"
                    )));
                }
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| tar_err(name, &e))?
                    .ok_or_else(|| refuse("refused: a link without a target"))?
                    .into_owned();
                if !stays_inside(&parent_rel, &target) {
                    return Err(refuse(&format!(
                        "refused: a link to {} leaves the archive",
                        target.display()
                    )));
                }
                std::os::unix::fs::symlink(&target, &dest)
                    .map_err(|e| crate::io_failure(&e, &dest))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| tar_err(name, &e))?
                    .ok_or_else(|| refuse("refused: a hard link without a target"))?
                    .into_owned();
                let src = root.join(&target);
                let plain = std::fs::symlink_metadata(&src).is_ok_and(|m| m.is_file());
                if !clean_relative(&target) || !plain {
                    return Err(refuse(&format!(
                        "refused: a hard link to {} outside the archive",
                        target.display()
                    )));
                }
                std::fs::hard_link(&src, &dest).map_err(|e| crate::io_failure(&e, &dest))?;
            }
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            other => {
                return Err(refuse(&format!(
                    "refused: a {other:?} entry (only files, folders and links are unpacked)"
                )))
            }
        }
    }
    Ok(())
}

fn tar_err(name: &str, e: &std::io::Error) -> Failure {
    Error::in_whole_file(format!("bad archive: {e}"))
        .in_file(name)
        .into()
}

/// Open a tar file, or standard input for `-`, decompressing by magic bytes (gzip, zstd).
pub fn tar_reader(src: &str) -> Result<Box<dyn Read>, Failure> {
    let raw: Box<dyn Read> = if src == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(src).map_err(|e| crate::io_failure(&e, Path::new(src)))?;
        Box::new(f)
    };
    let mut buffered = std::io::BufReader::with_capacity(1 << 20, raw);
    let head = std::io::BufRead::fill_buf(&mut buffered)
        .map_err(|e| crate::io_failure(&e, Path::new(src)))?
        .to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(buffered))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| tar_err(src, &e))?)
    } else {
        Box::new(buffered)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_climb_out_are_seen() {
        assert!(stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(!stays_inside(Path::new("a"), Path::new("../../c")));
        assert!(!stays_inside(Path::new(""), Path::new("/etc/passwd")));
        assert!(stays_inside(Path::new(""), Path::new("x/y")));
    }
}
