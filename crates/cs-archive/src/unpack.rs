//! Unpacking: the entries [`for_each_entry`] checked, written into a folder.

use crate::entries::{for_each_entry, Entry, Kind, LinkLeftOut, LinksOut};
use crate::{io_error, tar_error};
use cs_format::{Error, Place};
use std::io::Read;
use std::path::{Component, Path};

/// Unpack a tar stream into `root` (an empty temporary folder): every entry checked by
/// [`for_each_entry`] first, then written; nothing is written outside `root` nor through a
/// link in it. Returns the links left out ([`LinksOut::LeaveOut`]), which are not created.
/// `stop` is asked before each entry is written: its error stops the unpacking (the caller's
/// way to stop on a signal; `root` is then the caller's to remove).
pub fn safe_unpack<E: From<Error>>(
    input: impl Read,
    root: &Path,
    name: &str,
    links_out: LinksOut,
    stop: impl Fn() -> Result<(), E>,
) -> Result<Vec<LinkLeftOut>, E> {
    for_each_entry(input, name, links_out, |entry| {
        stop()?;
        Ok(write_entry(entry, root, name)?)
    })
}

/// Write one checked entry under `root`.
fn write_entry(entry: &mut Entry<'_>, root: &Path, name: &str) -> Result<(), Error> {
    make_folders_on_the_way(entry, root, name)?;
    let dest = root.join(&entry.path);
    match entry.kind {
        Kind::Dir => match std::fs::create_dir(&dest) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(io_error(&e, &dest))
            }
            _ => {}
        },
        Kind::File => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&dest)
                .map_err(|e| io_error(&e, &dest))?;
            std::io::copy(entry, &mut f).map_err(|e| tar_error(name, &e))?;
        }
        Kind::Symlink | Kind::HardLink => {
            let target = entry.link.clone().unwrap_or_default();
            let made = if entry.kind == Kind::Symlink {
                std::os::unix::fs::symlink(&target, &dest)
            } else {
                std::fs::hard_link(root.join(&target), &dest)
            };
            made.map_err(|e| io_error(&e, &dest))?;
        }
    }
    Ok(())
}

/// The folders on the way to an entry (those without an entry of their own too): the index
/// already refused any that is a link or a file, the file system is asked again all the same.
fn make_folders_on_the_way(entry: &Entry<'_>, root: &Path, name: &str) -> Result<(), Error> {
    let mut at = root.to_path_buf();
    let parts: Vec<Component> = entry.path.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                return Err(Error::new(
                    Place::Entry(entry.shown.clone()),
                    "refused: the name passes through a link or a file",
                )
                .in_file(name))
            }
            Err(_) => std::fs::create_dir(&at).map_err(|e| io_error(&e, &at))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::tests::archive;
    use tar::EntryType as T;

    fn unpack(tar: &[u8], root: &Path, links_out: LinksOut) -> Result<Vec<LinkLeftOut>, Error> {
        safe_unpack(tar, root, "x.tar", links_out, || Ok::<(), Error>(()))
    }

    #[test]
    fn unpacking_writes_files_links_and_missing_folders() {
        let tar = archive(&[
            ("./P/J1/f.cs", T::Regular, "", b"abc"),
            ("./P/J1/g.cs", T::Link, "./P/J1/f.cs", b""),
            ("./P/J2", T::Symlink, "J1", b""),
        ]);
        let dir = tempfile::tempdir().unwrap();
        unpack(&tar, dir.path(), LinksOut::Refuse).unwrap();
        let p = dir.path().join("P");
        assert_eq!(std::fs::read(p.join("J1/f.cs")).unwrap(), b"abc");
        assert_eq!(std::fs::read(p.join("J1/g.cs")).unwrap(), b"abc");
        assert_eq!(std::fs::read_link(p.join("J2")).unwrap(), Path::new("J1"));
    }

    #[test]
    fn a_stop_before_an_entry_leaves_it_unwritten() {
        let tar = archive(&[("a", T::Regular, "", b"1"), ("b", T::Regular, "", b"2")]);
        let dir = tempfile::tempdir().unwrap();
        let written = std::cell::Cell::new(0);
        let e = safe_unpack(&tar[..], dir.path(), "x.tar", LinksOut::Refuse, || {
            written.set(written.get() + 1);
            match written.get() {
                1 => Ok(()),
                _ => Err(Error::in_whole_file("signalled")),
            }
        })
        .unwrap_err();
        assert_eq!(e.what, "signalled");
        assert!(dir.path().join("a").is_file() && !dir.path().join("b").exists());
    }

    #[test]
    fn links_out_are_left_out_and_listed_when_asked() {
        let tar = archive(&[
            ("P/J1/imported/x.tif", T::Symlink, "/data/raw/x.tif", b""),
            ("P/J1/up", T::Symlink, "../../../raw", b""),
            ("P/J1/in", T::Symlink, "../J2", b""),
            ("P/J1/f.cs", T::Regular, "", b"abc"),
            ("P/J3", T::Symlink, "J1/up/y", b""),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let left = unpack(&tar, dir.path(), LinksOut::LeaveOut).unwrap();
        let names: Vec<_> = left
            .iter()
            .map(|l| (l.shown.as_str(), l.target.display().to_string()))
            .collect();
        assert_eq!(
            names,
            [
                ("P/J1/imported/x.tif", "/data/raw/x.tif".to_string()),
                ("P/J1/up", "../../../raw".to_string()),
            ]
        );
        let p = dir.path().join("P");
        assert!(std::fs::symlink_metadata(p.join("J1/imported/x.tif")).is_err());
        assert!(std::fs::symlink_metadata(p.join("J1/up")).is_err());
        // The rest as usual; a link through a left-out one dangles inside.
        assert_eq!(std::fs::read(p.join("J1/f.cs")).unwrap(), b"abc");
        assert_eq!(
            std::fs::read_link(p.join("J1/in")).unwrap(),
            Path::new("../J2")
        );
        assert_eq!(
            std::fs::read_link(p.join("J3")).unwrap(),
            Path::new("J1/up/y")
        );
        // By default the first is refused, saying what to do.
        let other = tempfile::tempdir().unwrap();
        let e = unpack(&tar, other.path(), LinksOut::Refuse)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "entry P/J1/imported/x.tif: refused: a link to /data/raw/x.tif leads \
                        outside the archive (data that did not travel? give --allow-missing"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_left_out_link_still_keeps_entries_from_passing_through_it() {
        let canary = tempfile::tempdir().unwrap();
        let target = canary.path().display().to_string();
        for second in [
            ("a/passwd", T::Regular, "", &b"x"[..]),
            ("a", T::Regular, "", &b"x"[..]),
            ("a", T::Symlink, "b", &b""[..]),
        ] {
            let tar = archive(&[("a", T::Symlink, &target, b""), second]);
            let dir = tempfile::tempdir().unwrap();
            let e = unpack(&tar, dir.path(), LinksOut::LeaveOut)
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("entry {}: refused", second.0)), "{e}");
            assert_eq!(std::fs::read_dir(canary.path()).unwrap().count(), 0);
        }
    }
}
