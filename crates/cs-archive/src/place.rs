//! An archive unpacked beside its place and moved into it: the flow `job-pack import` (into a
//! project's `imports/jobs/`) and `proj-import` (into an instance's `imports/`, or `--dest`)
//! share. The archive is unpacked into a temporary folder inside the folder it goes to (so the
//! data is written once, on that disk, and the move is a rename), its top folder found, a free
//! name chosen, and the move made when the caller is ready ([`Unpacked::place`]).

use crate::entries::{LinkLeftOut, LinksOut};
use crate::io_error;
use crate::open::tar_reader;
use crate::unpack::safe_unpack;
use cs_format::temp::TempDir;
use cs_format::Error;
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

/// The folder an archive is placed in, made with its missing parents; those made now are
/// removed again (each only when empty) by [`MadeFolders::remove_if_empty`] when the import
/// fails, so that a refusal leaves the tree as it was.
#[derive(Debug)]
pub struct MadeFolders {
    /// The folders made now, deepest first.
    made: Vec<PathBuf>,
}

impl MadeFolders {
    /// Make `folder` and any missing folder above it.
    pub fn make(folder: &Path) -> Result<MadeFolders, Error> {
        let made: Vec<PathBuf> = folder
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(folder).map_err(|e| io_error(&e, folder))?;
        Ok(MadeFolders { made })
    }

    /// True when the folder itself was made now.
    pub fn made_now(&self) -> bool {
        !self.made.is_empty()
    }

    /// Remove the folders made now, deepest first, each only if it is empty.
    pub fn remove_if_empty(&self) {
        for dir in &self.made {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// An archive unpacked into a temporary folder inside the folder it goes to, every entry
/// checked, with the free name it will have there chosen; [`Unpacked::place`] moves it.
/// Dropped unplaced, the temporary folder is removed (and a run killed meanwhile leaves one
/// that the next unpack into the same folder sweeps away).
#[derive(Debug)]
pub struct Unpacked {
    source: String,
    tmp: TempDir,
    /// The archive's one top folder, by name: None when it moves whole.
    top: Option<String>,
    /// Where the contents are now: the top folder, or the temporary folder.
    contents: PathBuf,
    dest: PathBuf,
    links_left_out: Vec<LinkLeftOut>,
}

impl Unpacked {
    /// Unpack the archive `source` (a tar file, plain or compressed, or `-` for standard input)
    /// into a new temporary folder in `folder` ([`safe_unpack`]: `links_out` says what a link
    /// leading outside does, `stop` is asked before each entry), and choose its place in
    /// `folder`. An archive of one folder (`tar -cf X.tar ./X`) is placed as that folder, under
    /// its name; one made from inside a folder (`tar -C X -cf x.tar .`) or holding several
    /// things at its top is placed whole, under `name_from_inside(contents)`. A name already
    /// taken gets `-2`, `-3`… ([`free_place`]).
    pub fn unpack<E: From<Error>>(
        source: &str,
        folder: &Path,
        links_out: LinksOut,
        name_from_inside: impl FnOnce(&Path) -> String,
        stop: impl Fn() -> Result<(), E>,
    ) -> Result<Unpacked, E> {
        let tmp = cs_format::temp::dir_in(folder).map_err(|e| io_error(&e, folder))?;
        let links_left_out = safe_unpack(tar_reader(source)?, tmp.path(), source, links_out, stop)?;
        let top = single_top_folder(tmp.path());
        let (contents, name) = match &top {
            Some(name) => (tmp.path().join(name), name.clone()),
            None => (tmp.path().to_path_buf(), name_from_inside(tmp.path())),
        };
        Ok(Unpacked {
            source: source.to_string(),
            dest: free_place(folder, &name),
            tmp,
            top,
            contents,
            links_left_out,
        })
    }

    /// Where the archive's contents are now: its one top folder, or the whole of it.
    pub fn contents(&self) -> &Path {
        &self.contents
    }

    /// Where [`Unpacked::contents`] will be once placed.
    pub fn destination(&self) -> &Path {
        &self.dest
    }

    /// The links that led outside the archive and were left out ([`LinksOut::LeaveOut`]).
    pub fn links_left_out(&self) -> &[LinkLeftOut] {
        &self.links_left_out
    }

    /// The name in the archive (normalised) of `path`, a file or folder under
    /// [`Unpacked::contents`]; empty for the archive's top.
    pub fn name_in_archive(&self, path: &Path) -> Option<PathBuf> {
        path.strip_prefix(self.tmp.path())
            .ok()
            .map(Path::to_path_buf)
    }

    /// Move the contents to [`Unpacked::destination`]: the top folder by a rename, or the
    /// temporary folder itself, made readable like any folder an archive holds (0755) first,
    /// so that a kill after the rename never leaves it private.
    pub fn place(self) -> Result<Placed, Error> {
        let moved = match &self.top {
            None => std::fs::set_permissions(
                self.tmp.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .and_then(|()| self.tmp.rename_to(&self.dest)),
            Some(_) => std::fs::rename(&self.contents, &self.dest),
        };
        moved.map_err(|e| io_error(&e, &self.dest))?;
        Ok(Placed {
            source: self.source,
            dir: self.dest,
            top: self.top,
        })
    }
}

/// The one entry of a folder, when it is a folder (not a link to one).
fn single_top_folder(dir: &Path) -> Option<String> {
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir).ok()?.flatten().collect();
    match entries.as_slice() {
        [one] if one.file_type().is_ok_and(|t| t.is_dir()) => {
            Some(one.file_name().to_string_lossy().into_owned())
        }
        _ => None,
    }
}

/// An unpacked archive in its place.
#[derive(Debug, Clone)]
pub struct Placed {
    source: String,
    dir: PathBuf,
    top: Option<String>,
}

impl Placed {
    /// The placed folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The archive as given (`-` for standard input).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The name in the archive of `path`, a file or folder under [`Placed::dir`]
    /// (`P3_J8_homo_refine_new/job.json`; for an archive made from inside, `job.json`).
    pub fn name_in_archive(&self, path: &Path) -> Option<PathBuf> {
        let rel = path.strip_prefix(&self.dir).ok()?;
        Some(match &self.top {
            Some(top) => Path::new(top).join(rel),
            None => rel.to_path_buf(),
        })
    }

    /// How messages name `path` under [`Placed::dir`]: `ARCHIVE: entry NAME`, as a refused
    /// entry is named (never by the placed folder, which a failed import removes).
    pub fn entry_name(&self, path: &Path) -> Option<String> {
        let name = self.name_in_archive(path)?;
        Some(format!("{}: entry {}", self.source, name.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::tests::archive;
    use tar::EntryType as T;

    fn written(dir: &Path, name: &str, tar: &[u8]) -> String {
        let path = dir.join(name);
        std::fs::write(&path, tar).unwrap();
        path.display().to_string()
    }

    fn unpack(src: &str, folder: &Path) -> Unpacked {
        let name = |_: &Path| "from-inside".to_string();
        Unpacked::unpack(src, folder, LinksOut::Refuse, name, || Ok::<(), Error>(())).unwrap()
    }

    #[test]
    fn an_archive_of_one_folder_is_placed_as_that_folder_beside_what_is_there() {
        let d = tempfile::tempdir().unwrap();
        let tar = archive(&[
            ("./X/", T::Directory, "", b""),
            ("./X/f", T::Regular, "", b"1"),
        ]);
        let src = written(d.path(), "x.tar", &tar);
        let imports = d.path().join("imports");
        std::fs::create_dir_all(imports.join("X")).unwrap();
        let u = unpack(&src, &imports);
        assert_eq!(u.destination(), imports.join("X-2"));
        let file = u.contents().join("f");
        assert_eq!(u.name_in_archive(&file), Some(PathBuf::from("X/f")));
        let placed = u.place().unwrap();
        assert_eq!(std::fs::read(imports.join("X-2/f")).unwrap(), b"1");
        let entry = placed.entry_name(&placed.dir().join("f")).unwrap();
        assert_eq!(entry, format!("{src}: entry X/f"));
        // Only what was placed is left: no temporary folder.
        assert_eq!(std::fs::read_dir(&imports).unwrap().count(), 2);
    }

    #[test]
    fn an_archive_made_from_inside_is_placed_whole_readable_under_the_name_given() {
        let d = tempfile::tempdir().unwrap();
        let tar = archive(&[("./", T::Directory, "", b""), ("./f", T::Regular, "", b"1")]);
        let src = written(d.path(), "x.tar", &tar);
        let u = unpack(&src, d.path());
        assert_eq!(u.destination(), d.path().join("from-inside"));
        let placed = u.place().unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(placed.dir()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            placed.name_in_archive(&placed.dir().join("f")),
            Some(PathBuf::from("f"))
        );
    }

    #[test]
    fn an_unplaced_archive_leaves_nothing_and_made_folders_go_when_empty() {
        let d = tempfile::tempdir().unwrap();
        let tar = archive(&[("X/f", T::Regular, "", b"1")]);
        let src = written(d.path(), "x.tar", &tar);
        let folder = d.path().join("P/imports/jobs");
        std::fs::create_dir(d.path().join("P")).unwrap();
        let made = MadeFolders::make(&folder).unwrap();
        assert!(made.made_now());
        drop(unpack(&src, &folder));
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
        made.remove_if_empty();
        assert!(!d.path().join("P/imports").exists() && d.path().join("P").is_dir());
        let again = MadeFolders::make(&d.path().join("P")).unwrap();
        assert!(!again.made_now());
    }

    #[test]
    fn a_refused_archive_leaves_no_temporary_folder() {
        let d = tempfile::tempdir().unwrap();
        let tar = archive(&[("X/l", T::Symlink, "/etc", b"")]);
        let src = written(d.path(), "x.tar", &tar);
        let folder = d.path().join("imports");
        std::fs::create_dir(&folder).unwrap();
        let name = |_: &Path| String::new();
        let e = Unpacked::unpack(
            &src,
            &folder,
            LinksOut::Refuse,
            name,
            || Ok::<(), Error>(()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("entry X/l: refused"), "{e}");
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 0);
    }
}
