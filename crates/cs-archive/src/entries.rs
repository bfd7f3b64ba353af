//! A tar stream read entry by entry, each checked before anything is done with it
//! ([`for_each_entry`]).

use crate::names::{normalise, stays_inside};
use crate::tar_error;
use cs_format::{Error, Place};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

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

impl LinksOut {
    /// [`LinksOut::LeaveOut`] when `allow_missing` (the tools' `--allow-missing`), else
    /// [`LinksOut::Refuse`].
    pub fn left_out_if(allow_missing: bool) -> LinksOut {
        match allow_missing {
            true => LinksOut::LeaveOut,
            false => LinksOut::Refuse,
        }
    }
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

/// The kind of a tar entry (None: metadata between entries), or why it is refused.
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

/// An entry's header, checked: what [`Entry`] tells the visitor before its data.
struct Checked {
    path: PathBuf,
    shown: String,
    kind: Kind,
    link: Option<PathBuf>,
}

/// The state of one read of an archive: its name for messages, what to do with links out, the
/// names met so far and the links left out.
struct Reader<'n> {
    name: &'n str,
    links_out: LinksOut,
    index: Index,
    left_out: Vec<LinkLeftOut>,
}

impl Reader<'_> {
    /// A refusal of the entry stored as `shown`.
    fn refuse(&self, shown: &str, what: &str) -> Error {
        Error::new(Place::Entry(shown.to_string()), what.to_string()).in_file(self.name)
    }

    /// The `n`th entry could not be read: the first means the stream is not a tar at all.
    fn unreadable(&self, n: usize, e: &std::io::Error) -> Error {
        match n {
            0 => Error::in_whole_file(format!(
                "is not a tar archive (plain, gzip, zstd, bzip2 or xz): {e}"
            ))
            .in_file(self.name),
            _ => tar_error(self.name, e),
        }
    }

    /// Check one entry's header against the entries before it and record it. None: nothing
    /// for the visitor (metadata, the archived folder's own `./`, a folder listed again, a link
    /// left out).
    fn check<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<Option<Checked>, Error> {
        let sparse = pax_sparse_name(entry).map_err(|e| tar_error(self.name, &e))?;
        let shown = match &sparse {
            Some(real) => real.clone(),
            None => String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
        };
        let refuse = |what: &str| self.refuse(&shown, what);
        let Some(kind) = kind_of(entry.header().entry_type()).map_err(|w| refuse(&w))? else {
            return Ok(None);
        };
        if sparse.is_some() {
            return Err(refuse(
                "refused: a sparse file (only files, folders and links are read)",
            ));
        }
        let path = entry.path().map_err(|e| tar_error(self.name, &e))?;
        let path = normalise(&path).map_err(|w| refuse(&format!("refused: {w}")))?;
        if path.as_os_str().is_empty() {
            if kind == Kind::Dir {
                return Ok(None); // `./`: the archived folder itself
            }
            return Err(refuse("refused: an entry without a name"));
        }
        let link = self.link_of(entry, kind, &path, &shown)?;
        let checked = Checked {
            path,
            shown,
            kind,
            link,
        };
        self.admit(checked)
    }

    /// Admit a checked header into the index: a link leading outside by its own text is
    /// refused or left out (`links_out`); a folder listed again is passed over.
    fn admit(&mut self, c: Checked) -> Result<Option<Checked>, Error> {
        let parent = c.path.parent().unwrap_or(Path::new(""));
        let out = c
            .link
            .as_ref()
            .filter(|t| c.kind == Kind::Symlink && !stays_inside(parent, t));
        if let (Some(target), LinksOut::Refuse) = (out, self.links_out) {
            return Err(self.refuse(
                &c.shown,
                &format!(
                    "refused: a link to {} leads outside the archive (data that did not \
                     travel? give --allow-missing to import without it)",
                    target.display()
                ),
            ));
        }
        let admitted = self.index.admit(&c.path, c.kind);
        if !admitted.map_err(|w| self.refuse(&c.shown, &w))? {
            return Ok(None);
        }
        if let Some(target) = out {
            // Its name stays taken in the index (as a link): nothing is written through it.
            self.left_out.push(LinkLeftOut {
                target: target.clone(),
                path: c.path,
                shown: c.shown,
            });
            return Ok(None);
        }
        if let (Kind::Symlink, Some(target)) = (c.kind, &c.link) {
            let named = (target.clone(), c.shown.clone());
            self.index.links.insert(c.path.clone(), named);
        }
        Ok(Some(c))
    }

    /// The link of a (symbolic or hard) link entry, checked: a hard link must name a file
    /// earlier in the archive; a symlink any non-empty text (whether it leads outside is for
    /// [`Reader::admit`]).
    fn link_of<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        kind: Kind,
        path: &Path,
        shown: &str,
    ) -> Result<Option<PathBuf>, Error> {
        if !matches!(kind, Kind::Symlink | Kind::HardLink) {
            return Ok(None);
        }
        let target = entry
            .link_name()
            .map_err(|e| tar_error(self.name, &e))?
            .map(|t| t.into_owned())
            .filter(|t| !t.as_os_str().is_empty())
            .ok_or_else(|| self.refuse(shown, "refused: a link without a target"))?;
        if kind == Kind::Symlink {
            return Ok(Some(target));
        }
        // A hard link names its file from the archive's top, like any entry.
        let outside = || {
            let what = format!(
                "refused: a hard link to {} leads outside the archive",
                target.display()
            );
            self.refuse(shown, &what)
        };
        let file = normalise(&target).map_err(|_| outside())?;
        if file.as_os_str().is_empty() {
            return Err(outside());
        }
        if !self.index.is_file(&file) || file == path {
            let what = format!(
                "refused: a hard link to {}, which is not a file earlier in the archive",
                target.display()
            );
            return Err(self.refuse(shown, &what));
        }
        Ok(Some(file))
    }

    /// Hand a checked entry to `visit`, then read what it left unread: data shorter than the
    /// header says is refused whoever reads it.
    fn visit<R: Read, E: From<Error>>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        c: Checked,
        visitor: &mut impl FnMut(&mut Entry<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let size = entry.size();
        let mut checked = Entry {
            path: c.path,
            shown: c.shown,
            kind: c.kind,
            size,
            link: c.link,
            data: entry,
            read: 0,
        };
        visitor(&mut checked)?;
        std::io::copy(&mut checked, &mut std::io::sink()).map_err(|e| tar_error(self.name, &e))?;
        if checked.kind == Kind::File && checked.read != size {
            let what = format!(
                "refused: {} bytes of data where the header says {size}",
                checked.read
            );
            return Err(self.refuse(&checked.shown, &what).into());
        }
        Ok(())
    }

    /// Once the whole archive is read: refuse a link that leaves it through its other links;
    /// else the links left out.
    fn finish(self) -> Result<Vec<LinkLeftOut>, Error> {
        if let Some((link, target)) = self.index.link_leaving() {
            let what = format!(
                "refused: a link to {} leads outside the archive through its other links",
                target.display()
            );
            return Err(self.refuse(link, &what));
        }
        Ok(self.left_out)
    }
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
/// `name` is how messages name the archive; an error of `visit` stops the reading and is
/// returned as it is (a caller stops on a signal that way).
pub fn for_each_entry<E: From<Error>>(
    input: impl Read,
    name: &str,
    links_out: LinksOut,
    mut visit: impl FnMut(&mut Entry<'_>) -> Result<(), E>,
) -> Result<Vec<LinkLeftOut>, E> {
    let mut reader = Reader {
        name,
        links_out,
        index: Index::default(),
        left_out: Vec::new(),
    };
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| tar_error(name, &e))?;
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| reader.unreadable(n, &e))?;
        if let Some(checked) = reader.check(&mut entry)? {
            reader.visit(&mut entry, checked, &mut visit)?;
        }
    }
    Ok(reader.finish()?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An entry to write: name, type, link, data.
    pub(crate) type Raw<'a> = (&'a str, tar::EntryType, &'a str, &'a [u8]);

    /// A tar built with the `tar` crate's builder (entries as the test names them).
    pub(crate) fn archive(entries: &[Raw]) -> Vec<u8> {
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

    /// An entry as a test sees it: name, kind, link, data.
    type Listed = (String, Kind, Option<String>, Vec<u8>);

    fn listed(tar: &[u8]) -> Result<Vec<Listed>, String> {
        let mut out = Vec::new();
        for_each_entry::<Error>(tar, "x.tar", LinksOut::Refuse, |e| {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let link = e.link.as_ref().map(|l| l.display().to_string());
            out.push((e.path.display().to_string(), e.kind, link, data));
            Ok(())
        })
        .map_err(|e| e.to_string())?;
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
        let e = for_each_entry::<Error>(&tar[..], "x.tar", LinksOut::Refuse, |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("entry f: refused: 1024 bytes of data where the header says 2000"),
            "{e}"
        );
    }

    #[test]
    fn an_error_of_the_visitor_stops_the_reading_as_it_is() {
        let tar = archive(&[("a", T::Regular, "", b"1"), ("b", T::Regular, "", b"2")]);
        let mut seen = 0;
        let e = for_each_entry(&tar[..], "x.tar", LinksOut::Refuse, |_| {
            seen += 1;
            Err(Error::in_whole_file("stopped"))
        })
        .unwrap_err();
        assert_eq!((seen, e.to_string().as_str()), (1, "stopped"));
    }

    #[test]
    fn links_that_leave_together_are_refused_even_when_links_out_are_left_out() {
        let tar = archive(&[
            ("d/a", T::Symlink, ".", b""),
            ("d/b", T::Symlink, "a/a/a/../../../x", b""),
        ]);
        let e = for_each_entry::<Error>(&tar[..], "x.tar", LinksOut::LeaveOut, |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("entry d/b: refused: a link to a/a/a/../../../x leads outside the archive through its other links"), "{e}");
    }
}
