//! Reading archives safely, as people make them (GNU tar, bsdtar, Python's tarfile, our own
//! `job-pack tar`): a tar stream (plain, gzip, zstd, bzip2 or xz, told apart by their first
//! bytes) whose entries are checked one by one ([`for_each_entry`]) before anything is done
//! with them, and unpacked into a folder on top of that check ([`safe_unpack`]).

use crate::Failure;
use cs_format::{Error, Place};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// A path from an archive or a `.csg`: relative, plain components only.
pub fn clean_relative(p: &Path) -> bool {
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// An archive name as a plain relative path: `.` components (a leading `./`, `././`, `a/./b`)
/// dropped. The empty path is the archived folder itself (`./`). Absolute names and names with
/// `..` are refused, with the reason.
pub fn normalise(name: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("a name with '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute name"),
        }
    }
    Ok(out)
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

/// What a checked archive entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A folder.
    Dir,
    /// A regular file, its data in the entry.
    File,
    /// A symbolic link; its text (staying inside the archive) is [`Entry::link`].
    Symlink,
    /// A hard link to a file earlier in the archive, named (normalised) by [`Entry::link`].
    HardLink,
}

/// What reading an archive does with a symbolic link that leads outside it (an absolute target,
/// or one that climbs above the archive's top by its own text): raw data that did not travel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LinksOut {
    /// Refuse the archive, naming the link and `--allow-missing` (the default).
    #[default]
    Refuse,
    /// Leave the link out: it is not visited nor created, its name stays taken (an entry
    /// through it or under it is refused), and it is listed in the result.
    LeaveOut,
}

/// A symbolic link left out of an archive ([`LinksOut::LeaveOut`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLeftOut {
    /// The name, normalised.
    pub path: PathBuf,
    /// The name as stored in the archive (for messages).
    pub shown: String,
    /// The link's text.
    pub target: PathBuf,
}

/// One archive entry that passed every check: a plain relative name, a kind the tools read,
/// nothing written through a link or over an earlier entry. Reading it gives its data.
pub struct Entry<'a> {
    /// The name, normalised (no `.` components, never empty).
    pub path: PathBuf,
    /// The name as stored in the archive (for messages).
    pub shown: String,
    /// What it is.
    pub kind: Kind,
    /// The data size (files).
    pub size: u64,
    /// A symlink's text, or the normalised name of a hard link's file.
    pub link: Option<PathBuf>,
    data: &'a mut dyn Read,
    read: u64,
}

impl Read for Entry<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// What an earlier entry made of a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Dir,
    File,
    Symlink,
}

/// The names met so far (memory bounded by the names present in the archive).
#[derive(Default)]
struct Index {
    seen: HashMap<PathBuf, Seen>,
    /// Each symlink's text, and its name as stored.
    links: HashMap<PathBuf, (PathBuf, String)>,
}

impl Index {
    /// Check `path` (of kind `kind`) against the entries before it and record it. `Ok(false)`:
    /// a folder listed again, nothing more to do.
    fn admit(&mut self, path: &Path, kind: Kind) -> Result<bool, String> {
        let mut at = PathBuf::new();
        let parts: Vec<Component> = path.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            at.push(c);
            match self.seen.get(&at) {
                Some(Seen::Symlink) => {
                    return Err(format!(
                        "refused: it would be written through the link {}",
                        at.display()
                    ))
                }
                Some(Seen::File) => {
                    return Err(format!(
                        "refused: its folder {} is a file in the archive",
                        at.display()
                    ))
                }
                Some(Seen::Dir) => {}
                None => {
                    self.seen.insert(at.clone(), Seen::Dir);
                }
            }
        }
        let now = match kind {
            Kind::Dir => Seen::Dir,
            Kind::File | Kind::HardLink => Seen::File,
            Kind::Symlink => Seen::Symlink,
        };
        match self.seen.get(path) {
            None => {
                self.seen.insert(path.to_path_buf(), now);
                Ok(true)
            }
            Some(Seen::Dir) if now == Seen::Dir => Ok(false),
            Some(Seen::Symlink) => Err("refused: it would be written through the link stored \
                                        earlier under this name"
                .into()),
            Some(Seen::Dir) => Err("refused: the archive holds a folder of this name".into()),
            Some(Seen::File) => Err("refused: the archive holds this name twice".into()),
        }
    }

    /// The first link (its name as stored, and its text) that, followed through the other links
    /// of the archive, climbs above the archive's top (`a -> .` then `b -> a/a/../..`): each
    /// link's own text stays inside, together they need not.
    fn link_leaving(&self) -> Option<(&str, &Path)> {
        let mut links: Vec<_> = self.links.iter().collect();
        links.sort();
        links
            .into_iter()
            .find(|(path, _)| self.climbs_out(path))
            .map(|(_, (target, shown))| (shown.as_str(), target.as_path()))
    }

    fn climbs_out(&self, link: &Path) -> bool {
        let Some((target, _)) = self.links.get(link) else {
            return false;
        };
        let mut todo: Vec<Component> = target.components().rev().collect();
        let mut at = link.parent().unwrap_or(Path::new("")).to_path_buf();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c {
                Component::ParentDir if !at.pop() => return true,
                Component::Normal(part) => {
                    let next = at.join(part);
                    match self.links.get(&next) {
                        // A loop of links leads nowhere: harmless.
                        Some(_) if hops >= 40 => return false,
                        Some((more, _)) => {
                            hops += 1;
                            todo.extend(more.components().rev());
                        }
                        None => at = next,
                    }
                }
                _ => {}
            }
        }
        false
    }

    fn is_file(&self, path: &Path) -> bool {
        self.seen.get(path) == Some(&Seen::File)
    }
}

/// The kind of a tar entry, or why it is refused.
fn kind_of(t: tar::EntryType) -> Result<Option<Kind>, String> {
    use tar::EntryType as T;
    Ok(Some(match t {
        T::Directory => Kind::Dir,
        T::Regular | T::Continuous => Kind::File,
        T::Symlink => Kind::Symlink,
        T::Link => Kind::HardLink,
        // Metadata a reader may meet between entries: nothing to check or write.
        T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => return Ok(None),
        other => {
            let what = match other {
                T::Char => "a character device".to_string(),
                T::Block => "a block device".to_string(),
                T::Fifo => "a FIFO".to_string(),
                T::GNUSparse => "a sparse file".to_string(),
                t => format!("an entry of type '{}'", t.as_byte().escape_ascii()),
            };
            return Err(format!(
                "refused: {what} (only files, folders and links are read)"
            ));
        }
    }))
}

/// Read a tar stream entry by entry, checking each before `visit` sees it: names are
/// normalised (`./`, `.` components) and must stay relative and free of `..`; the archived
/// folder's own entry (`./`) is skipped; a file listed twice, a name that passes through a
/// link or a file, a symlink leading outside, a hard link to anything but a file earlier in the
/// archive, devices, FIFOs, sparse files and short data are refused (one error naming the
/// entry). GNU long names, pax headers (long names and links, large sizes), ustar and v7 are
/// read. Memory is bounded by the names present, never by a size an entry declares. A symlink
/// whose own text leads outside is refused or left out, as `links_out` says; those left out are
/// returned. One that leaves only through the archive's other links is refused in either case.
pub fn for_each_entry(
    input: impl Read,
    name: &str,
    links_out: LinksOut,
    mut visit: impl FnMut(&mut Entry<'_>) -> Result<(), Failure>,
) -> Result<Vec<LinkLeftOut>, Failure> {
    let mut left_out = Vec::new();
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| tar_err(name, &e))?;
    let mut index = Index::default();
    for (n, entry) in entries.enumerate() {
        crate::signals::stop_if_signalled()?;
        let mut entry = entry.map_err(|e| match n {
            0 => Error::in_whole_file(format!(
                "is not a tar archive (plain, gzip, zstd, bzip2 or xz): {e}"
            ))
            .in_file(name)
            .into(),
            _ => tar_err(name, &e),
        })?;
        let sparse = pax_sparse_name(&mut entry).map_err(|e| tar_err(name, &e))?;
        let shown = match &sparse {
            Some(real) => real.clone(),
            None => String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
        };
        let refuse = |what: &str| -> Failure {
            Error::new(Place::Entry(shown.clone()), what.to_string())
                .in_file(name)
                .into()
        };
        let Some(kind) = kind_of(entry.header().entry_type()).map_err(|w| refuse(&w))? else {
            continue;
        };
        if sparse.is_some() {
            return Err(refuse(
                "refused: a sparse file (only files, folders and links are read)",
            ));
        }
        let path = entry.path().map_err(|e| tar_err(name, &e))?;
        let path = normalise(&path).map_err(|w| refuse(&format!("refused: {w}")))?;
        if path.as_os_str().is_empty() {
            if kind == Kind::Dir {
                continue; // `./`: the archived folder itself
            }
            return Err(refuse("refused: an entry without a name"));
        }
        let link = link_of(&mut entry, kind, &path, &index, name).map_err(|e| match e {
            Ok(what) => refuse(&what),
            Err(f) => f,
        })?;
        let parent = path.parent().unwrap_or(Path::new(""));
        let out = link
            .as_ref()
            .filter(|t| kind == Kind::Symlink && !stays_inside(parent, t));
        if let (Some(target), LinksOut::Refuse) = (out, links_out) {
            return Err(refuse(&format!(
                "refused: a link to {} leads outside the archive (data that did not travel? \
                 give --allow-missing to import without it)",
                target.display()
            )));
        }
        if !index.admit(&path, kind).map_err(|w| refuse(&w))? {
            continue;
        }
        if let Some(target) = out {
            // Its name stays taken in the index (as a link): nothing is written through it.
            left_out.push(LinkLeftOut {
                path,
                shown,
                target: target.clone(),
            });
            continue;
        }
        if let (Kind::Symlink, Some(target)) = (kind, &link) {
            index
                .links
                .insert(path.clone(), (target.clone(), shown.clone()));
        }
        let size = entry.size();
        let mut checked = Entry {
            path,
            shown: shown.clone(),
            kind,
            size,
            link,
            data: &mut entry,
            read: 0,
        };
        visit(&mut checked)?;
        // What the visitor left unread, read now: short data is found whoever reads.
        std::io::copy(&mut checked, &mut std::io::sink()).map_err(|e| tar_err(name, &e))?;
        if kind == Kind::File && checked.read != size {
            return Err(refuse(&format!(
                "refused: {} bytes of data where the header says {size}",
                checked.read
            )));
        }
    }
    if let Some((link, target)) = index.link_leaving() {
        return Err(Error::new(
            Place::Entry(link.to_string()),
            format!(
                "refused: a link to {} leads outside the archive through its other links",
                target.display()
            ),
        )
        .in_file(name)
        .into());
    }
    Ok(left_out)
}

/// For a pax-format sparse file (GNU tar's `--sparse --format=pax`), its real name (the entry's
/// own is `…/GNUSparseFile.N/NAME`).
fn pax_sparse_name<R: Read>(entry: &mut tar::Entry<'_, R>) -> std::io::Result<Option<String>> {
    let Some(extensions) = entry.pax_extensions()? else {
        return Ok(None);
    };
    let mut sparse = false;
    let mut real = None;
    for ext in extensions {
        let ext = ext?;
        sparse |= ext.key_bytes().starts_with(b"GNU.sparse.");
        if ext.key_bytes() == b"GNU.sparse.name" {
            real = Some(String::from_utf8_lossy(ext.value_bytes()).into_owned());
        }
    }
    Ok(sparse
        .then(|| real.unwrap_or_else(|| String::from_utf8_lossy(&entry.path_bytes()).into_owned())))
}

/// The link of a (symbolic or hard) link entry, checked (a hard link must name a file earlier in
/// the archive; a symlink any non-empty text): `Err(Ok(why))` refuses it.
fn link_of<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    kind: Kind,
    path: &Path,
    index: &Index,
    name: &str,
) -> Result<Option<PathBuf>, Result<String, Failure>> {
    if !matches!(kind, Kind::Symlink | Kind::HardLink) {
        return Ok(None);
    }
    let target = entry
        .link_name()
        .map_err(|e| Err(tar_err(name, &e)))?
        .map(|t| t.into_owned())
        .filter(|t| !t.as_os_str().is_empty())
        .ok_or_else(|| Ok("refused: a link without a target".to_string()))?;
    if kind == Kind::Symlink {
        return Ok(Some(target)); // whether it leads outside is for the caller
    }
    // A hard link names its file from the archive's top, like any entry.
    let outside = || {
        Ok(format!(
            "refused: a hard link to {} leads outside the archive",
            target.display()
        ))
    };
    let file = normalise(&target).map_err(|_| outside())?;
    if file.as_os_str().is_empty() {
        return Err(outside());
    }
    if !index.is_file(&file) || file == path {
        return Err(Ok(format!(
            "refused: a hard link to {}, which is not a file earlier in the archive",
            target.display()
        )));
    }
    Ok(Some(file))
}

/// Unpack a tar stream into `root` (an empty temporary folder): every entry checked by
/// [`for_each_entry`] first, then written; nothing is written outside `root` nor through a
/// link in it. Returns the links left out ([`LinksOut::LeaveOut`]), which are not created.
pub fn safe_unpack(
    input: impl Read,
    root: &Path,
    name: &str,
    links_out: LinksOut,
) -> Result<Vec<LinkLeftOut>, Failure> {
    for_each_entry(input, name, links_out, |entry| {
        write_entry(entry, root, name)
    })
}

/// Write one checked entry under `root`.
fn write_entry(entry: &mut Entry<'_>, root: &Path, name: &str) -> Result<(), Failure> {
    let dest = root.join(&entry.path);
    // The folders on the way (those without an entry of their own too); the index already
    // refused any that is a link or a file, the file system is asked again all the same.
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
                .in_file(name)
                .into())
            }
            Err(_) => std::fs::create_dir(&at).map_err(|e| crate::io_failure(&e, &at))?,
        }
    }
    match entry.kind {
        Kind::Dir => match std::fs::create_dir(&dest) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(crate::io_failure(&e, &dest))
            }
            _ => {}
        },
        Kind::File => {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&dest)
                .map_err(|e| crate::io_failure(&e, &dest))?;
            std::io::copy(entry, &mut f).map_err(|e| tar_err(name, &e))?;
        }
        Kind::Symlink | Kind::HardLink => {
            let target = entry.link.clone().unwrap_or_default();
            let made = if entry.kind == Kind::Symlink {
                std::os::unix::fs::symlink(&target, &dest)
            } else {
                std::fs::hard_link(root.join(&target), &dest)
            };
            made.map_err(|e| crate::io_failure(&e, &dest))?;
        }
    }
    Ok(())
}

fn tar_err(name: &str, e: &std::io::Error) -> Failure {
    Error::in_whole_file(format!("bad archive: {e}"))
        .in_file(name)
        .into()
}

/// An archive's file name without its `.tar…` ending (`P47.tar.gz` → `P47`), the folder name
/// its contents get; None for standard input (`-`) or a name that leaves nothing.
pub fn archive_stem(src: &str) -> Option<String> {
    let name = Path::new(src).file_name()?.to_string_lossy().into_owned();
    let stem = [
        ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar",
    ]
    .iter()
    .find_map(|ext| name.strip_suffix(ext))
    .unwrap_or(&name);
    (src != "-" && !stem.is_empty()).then(|| stem.to_string())
}

/// Where unpacked contents named `name` go in `folder`: `folder/name`, else the first free
/// `folder/name-2`, `name-3`, …
pub fn free_place(folder: &Path, name: &str) -> std::path::PathBuf {
    let mut place = folder.join(name);
    let mut k = 2;
    while std::fs::symlink_metadata(&place).is_ok() {
        place = folder.join(format!("{name}-{k}"));
        k += 1;
    }
    place
}

/// Open a tar file, or standard input for `-`, decompressing by its first bytes (gzip, zstd,
/// bzip2, xz; anything else is read as a plain tar).
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
    Ok(match compression_of(&head) {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| tar_err(src, &e))?,
        ),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(buffered)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(buffered)),
        Compression::None => Box::new(buffered),
    })
}

/// How a stream is compressed, by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

fn compression_of(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d)) {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else {
        Compression::None
    }
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

    #[test]
    fn dot_components_are_dropped_and_dot_dot_refused() {
        assert_eq!(
            normalise(Path::new("./P47/J1")),
            Ok(PathBuf::from("P47/J1"))
        );
        assert_eq!(normalise(Path::new("././a/./b/")), Ok(PathBuf::from("a/b")));
        assert_eq!(normalise(Path::new("./")), Ok(PathBuf::new()));
        assert_eq!(normalise(Path::new(".")), Ok(PathBuf::new()));
        assert_eq!(normalise(Path::new("a/../b")), Err("a name with '..'"));
        assert_eq!(normalise(Path::new("/etc/x")), Err("an absolute name"));
    }

    #[test]
    fn compressions_are_told_apart_by_their_first_bytes() {
        assert_eq!(compression_of(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(compression_of(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(compression_of(b"BZh91AY&SY"), Compression::Bzip2);
        assert_eq!(compression_of(b"BZhx"), Compression::None);
        assert_eq!(compression_of(b"\xfd7zXZ\0\0"), Compression::Xz);
        assert_eq!(compression_of(b"./P47/"), Compression::None);
    }

    /// A tar built with the `tar` crate's builder (entries as the test names them).
    fn archive(entries: &[Raw]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for &(name, kind, link, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            // Raw names: the builder's own path checks would refuse the hostile ones.
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
            gnu.set_real_size(data.len() as u64);
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn text(f: Failure) -> String {
        match f {
            Failure::Data(e) => e.to_string(),
            other => format!("{other:?}"),
        }
    }

    /// An entry as a test sees it: name, kind, link, data.
    type Seen = (String, Kind, Option<String>, Vec<u8>);
    /// An entry to write: name, type, link, data.
    type Raw<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

    fn listed(tar: &[u8]) -> Result<Vec<Seen>, String> {
        let mut out = Vec::new();
        for_each_entry(tar, "x.tar", LinksOut::Refuse, |e| {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let link = e.link.as_ref().map(|l| l.display().to_string());
            out.push((e.path.display().to_string(), e.kind, link, data));
            Ok(())
        })
        .map_err(text)?;
        Ok(out)
    }

    use tar::EntryType as T;

    #[test]
    fn leading_dot_slash_and_the_root_entry_are_read() {
        let tar = archive(&[
            ("./", T::Directory, "", b""),
            ("./P47/", T::Directory, "", b""),
            ("././P47/./job.json", T::Regular, "", b"{}"),
            ("./P47/same.json", T::Link, "./P47/job.json", b""),
            ("./P47/ln", T::Symlink, "job.json", b""),
        ]);
        let got = listed(&tar).unwrap();
        let names: Vec<_> = got.iter().map(|g| g.0.as_str()).collect();
        assert_eq!(names, ["P47", "P47/job.json", "P47/same.json", "P47/ln"]);
        assert_eq!(got[1].3, b"{}");
        assert_eq!(got[2].2.as_deref(), Some("P47/job.json"));
        assert_eq!(got[3].2.as_deref(), Some("job.json"));
    }

    #[test]
    fn a_folder_twice_is_fine_a_file_twice_is_not() {
        let dirs = archive(&[
            ("a/", T::Directory, "", b""),
            ("./a/", T::Directory, "", b""),
        ]);
        assert_eq!(listed(&dirs).unwrap().len(), 1);
        let files = archive(&[
            ("a/f", T::Regular, "", b"1"),
            ("./a/f", T::Regular, "", b"2"),
        ]);
        let e = listed(&files).unwrap_err();
        assert!(
            e.contains("entry ./a/f: refused: the archive holds this name twice"),
            "{e}"
        );
    }

    #[test]
    fn hostile_entries_are_refused_naming_the_entry() {
        let cases: &[(&[Raw], &str)] = &[
            (
                &[("../evil", T::Regular, "", b"x")],
                "entry ../evil: refused: a name with '..'",
            ),
            (
                &[("/etc/x", T::Regular, "", b"x")],
                "entry /etc/x: refused: an absolute name",
            ),
            (
                &[("l", T::Symlink, "../out", b"")],
                "entry l: refused: a link to ../out leads outside",
            ),
            (
                &[("l", T::Symlink, "/etc", b"")],
                "entry l: refused: a link to /etc leads outside",
            ),
            (
                &[("l", T::Symlink, "d", b""), ("l/f", T::Regular, "", b"x")],
                "entry l/f: refused: it would be written through the link l",
            ),
            (
                &[("l", T::Symlink, "d", b""), ("l", T::Regular, "", b"x")],
                "entry l: refused: it would be written through the link",
            ),
            (
                &[("h", T::Link, "../etc/passwd", b"")],
                "entry h: refused: a hard link to ../etc/passwd leads outside",
            ),
            (
                &[("h", T::Link, "nothere", b"")],
                "entry h: refused: a hard link to nothere, which is not a file",
            ),
            (
                &[("d", T::Char, "", b"")],
                "entry d: refused: a character device",
            ),
            (
                &[("d", T::Block, "", b"")],
                "entry d: refused: a block device",
            ),
            (&[("p", T::Fifo, "", b"")], "entry p: refused: a FIFO"),
            (
                &[("s", T::GNUSparse, "", b"")],
                "entry s: refused: a sparse file",
            ),
            (
                &[("f", T::Regular, "", b"x"), ("f/g", T::Regular, "", b"x")],
                "entry f/g: refused: its folder f is a file in the archive",
            ),
        ];
        for (entries, want) in cases {
            let e = listed(&archive(entries)).unwrap_err();
            assert!(e.starts_with("x.tar: ") && e.contains(want), "{e} / {want}");
        }
    }

    #[test]
    fn links_that_leave_together_are_refused() {
        let tar = archive(&[
            ("d/b", T::Symlink, "a/a/a/../../../x", b""),
            ("d/a", T::Symlink, ".", b""),
        ]);
        let e = listed(&tar).unwrap_err();
        assert!(
            e.contains("entry d/b: refused: a link to a/a/a/../../../x leads outside the archive"),
            "{e}"
        );
        let fine = archive(&[
            ("d/a", T::Symlink, ".", b""),
            ("d/b", T::Symlink, "a/a/x", b""),
        ]);
        assert_eq!(listed(&fine).unwrap().len(), 2);
        let looped = archive(&[("a", T::Symlink, "b", b""), ("b", T::Symlink, "a/x", b"")]);
        assert_eq!(listed(&looped).unwrap().len(), 2);
    }

    #[test]
    fn a_pax_size_counts_over_the_header_size() {
        let mut b = tar::Builder::new(Vec::new());
        b.append_pax_extensions([("size", b"5".as_slice())])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_path("P/big.bin").unwrap();
        h.set_size(0);
        h.set_cksum();
        b.get_mut().extend_from_slice(h.as_bytes());
        b.get_mut().extend_from_slice(&[9u8; 512]);
        let tar = b.into_inner().unwrap();
        let got = listed(&tar).unwrap();
        assert_eq!(got[0].0, "P/big.bin");
        assert_eq!(got[0].3, vec![9u8; 5]);
    }

    #[test]
    fn long_names_and_long_link_targets_are_read() {
        let long = format!("./P/{}/{}", "a".repeat(120), "f.cs");
        let target = format!("../{}/f.cs", "a".repeat(120));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        b.append_data(&mut h, &long, &b"ok"[..]).unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(T::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "P/b/link", &target).unwrap();
        let mut hl = tar::Header::new_gnu();
        hl.set_entry_type(T::Link);
        hl.set_size(0);
        b.append_link(&mut hl, "P/b/hard", &long).unwrap();
        let got = listed(&b.into_inner().unwrap()).unwrap();
        let want = long.trim_start_matches("./");
        assert_eq!(got[0].0, want);
        assert_eq!(got[1].2.as_deref(), Some(target.as_str()));
        assert_eq!(got[2].2.as_deref(), Some(want));
    }

    #[test]
    fn what_is_not_a_tar_is_called_so() {
        let e = listed(b"hello\n").unwrap_err();
        assert!(e.starts_with("x.tar: is not a tar archive"), "{e}");
    }

    #[test]
    fn short_data_is_refused_even_when_unread() {
        let mut tar = archive(&[("f", T::Regular, "", &[7u8; 2000])]);
        tar.truncate(512 + 1024);
        let e = for_each_entry(&tar[..], "x.tar", LinksOut::Refuse, |_| Ok(()))
            .map_err(text)
            .unwrap_err();
        assert!(
            e.contains("entry f: refused: 1024 bytes of data where the header says 2000"),
            "{e}"
        );
    }

    #[test]
    fn unpacking_writes_files_links_and_missing_folders() {
        let tar = archive(&[
            ("./P/J1/f.cs", T::Regular, "", b"abc"),
            ("./P/J1/g.cs", T::Link, "./P/J1/f.cs", b""),
            ("./P/J2", T::Symlink, "J1", b""),
        ]);
        let dir = tempfile::tempdir().unwrap();
        safe_unpack(&tar[..], dir.path(), "x.tar", LinksOut::Refuse).unwrap();
        let p = dir.path().join("P");
        assert_eq!(std::fs::read(p.join("J1/f.cs")).unwrap(), b"abc");
        assert_eq!(std::fs::read(p.join("J1/g.cs")).unwrap(), b"abc");
        assert_eq!(std::fs::read_link(p.join("J2")).unwrap(), Path::new("J1"));
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
        let left = safe_unpack(&tar[..], dir.path(), "x.tar", LinksOut::LeaveOut).unwrap();
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
        let e = listed(&tar).unwrap_err();
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
            let e = safe_unpack(&tar[..], dir.path(), "x.tar", LinksOut::LeaveOut)
                .map_err(text)
                .unwrap_err();
            assert!(e.contains(&format!("entry {}: refused", second.0)), "{e}");
            assert_eq!(std::fs::read_dir(canary.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn links_that_leave_together_are_refused_even_when_links_out_are_left_out() {
        let tar = archive(&[
            ("d/a", T::Symlink, ".", b""),
            ("d/b", T::Symlink, "a/a/a/../../../x", b""),
        ]);
        let e = for_each_entry(&tar[..], "x.tar", LinksOut::LeaveOut, |_| Ok(()))
            .map_err(text)
            .unwrap_err();
        assert!(e.contains("entry d/b: refused: a link to a/a/a/../../../x leads outside the archive through its other links"), "{e}");
    }
}
