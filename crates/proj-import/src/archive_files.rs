//! A project archive read as a stream, for `proj-import check ARCHIVE`: nothing is written to
//! disk. Every entry is checked as an import would check it ([`for_each_entry`]; a link leading
//! outside the archive is left out and reported as a problem rather than refused); kept in
//! memory are only the names, kinds and link targets of the entries, the small files a check
//! reads (`project.json`, `workspaces.json`, `cs.lock`, `job.json`, `.csg`; at most
//! [`KEPT_MAX`] bytes each) and the row count of each `.cs` file, read from its first bytes.

use crate::check::{ProjectFiles, Walked};
use cs_archive::{for_each_entry, tar_reader, Entry, Kind, LinkLeftOut, LinksOut};
use cs_cli::Failure;
use cs_format::project::LinkOut;
use cs_format::{Dataset, Error, Place};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The most bytes kept of one file a check reads whole.
pub const KEPT_MAX: u64 = 64 << 20;
/// The bytes read of a `.cs` file for its header (its rows).
const CS_HEAD: u64 = 1 << 20;
/// The most links followed on one path (as the kernel's limit on symlink loops).
const MAX_HOPS: usize = 40;

/// What a file entry left for the check.
#[derive(Debug)]
enum Data {
    /// Nothing (a file the check does not read).
    Unread,
    /// The whole file.
    Kept(Vec<u8>),
    /// A `.cs` file's rows, or why they cannot be read.
    Rows(Result<u64, String>),
}

/// An entry of the archive (folders without their own entry included).
#[derive(Debug)]
enum Node {
    Dir,
    File(Data),
    Symlink(PathBuf),
    HardLink(PathBuf),
}

/// A project archive's index: every entry by its normalised name, and where the project is.
pub struct ArchiveFiles {
    name: String,
    nodes: BTreeMap<PathBuf, Node>,
    root: PathBuf,
    /// The links that lead outside the archive: not among the nodes, as an import with
    /// `--allow-missing` leaves them out.
    left_out: Vec<LinkLeftOut>,
}

impl ArchiveFiles {
    /// Read the archive `src` ("-": standard input) to its end.
    pub fn read(src: &str) -> Result<Self, Failure> {
        let mut nodes: BTreeMap<PathBuf, Node> = BTreeMap::new();
        let left_out =
            for_each_entry::<Failure>(tar_reader(src)?, src, LinksOut::LeaveOut, |entry| {
                cs_cli::signals::stop_if_signalled()?;
                for parent in entry.path.ancestors().skip(1) {
                    nodes.entry(parent.to_path_buf()).or_insert(Node::Dir);
                }
                let node = match entry.kind {
                    Kind::Dir => Node::Dir,
                    Kind::File => Node::File(kept(entry, src)?),
                    Kind::Symlink => Node::Symlink(entry.link.clone().unwrap_or_default()),
                    Kind::HardLink => Node::HardLink(entry.link.clone().unwrap_or_default()),
                };
                nodes.insert(entry.path.clone(), node);
                Ok(())
            })?;
        let mut files = ArchiveFiles {
            name: src.to_string(),
            nodes,
            root: PathBuf::new(),
            left_out,
        };
        files.root = files.project_root().ok_or_else(|| {
            Failure::from(
                Error::in_whole_file("does not hold one project folder (with project.json)")
                    .in_file(src),
            )
        })?;
        Ok(files)
    }

    /// True when the project in the archive holds a file of this name.
    pub fn holds(&self, rel: &str) -> bool {
        self.nodes.contains_key(&self.root.join(rel))
    }

    /// Where the project is, found as an import finds it: the archive's one top-level folder
    /// (else its top), which is the project or holds it as its one sub-folder with a
    /// `project.json`.
    fn project_root(&self) -> Option<PathBuf> {
        let tops = self.children(Path::new(""));
        let top = match tops.as_slice() {
            [one] if matches!(self.nodes.get(one), Some(Node::Dir)) => one.clone(),
            _ => PathBuf::new(),
        };
        if self.is_file_at(&top.join("project.json")) {
            return Some(top);
        }
        let found: Vec<PathBuf> = self
            .children(&top)
            .into_iter()
            .filter(|c| self.is_file_at(&c.join("project.json")))
            .collect();
        match found.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// The entries directly in folder `dir` (archive names).
    fn children(&self, dir: &Path) -> Vec<PathBuf> {
        self.nodes
            .range(dir.to_path_buf()..)
            .map(|(k, _)| k)
            .take_while(|k| k.starts_with(dir))
            .filter(|k| k.parent() == Some(dir) && !k.as_os_str().is_empty())
            .cloned()
            .collect()
    }

    /// `path` (an archive name) with every link on the way followed; `None` when it leads
    /// nowhere (or above the archive).
    fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let mut todo: Vec<Component> = path.components().rev().collect();
        let mut at = PathBuf::new();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c {
                Component::Normal(part) => {
                    let next = at.join(part);
                    match self.nodes.get(&next)? {
                        Node::Symlink(target) => {
                            hops += 1;
                            if hops > MAX_HOPS || target.is_absolute() {
                                return None;
                            }
                            todo.extend(target.components().rev());
                        }
                        Node::HardLink(file) => at = file.clone(),
                        _ => at = next,
                    }
                }
                Component::ParentDir => {
                    if !at.pop() {
                        return None;
                    }
                }
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        Some(at)
    }

    /// The node at a project path, links followed.
    fn node(&self, rel: &Path) -> Option<&Node> {
        if rel.is_absolute() {
            return None;
        }
        self.nodes.get(&self.resolve(&self.root.join(rel))?)
    }

    fn is_file_at(&self, archive_path: &Path) -> bool {
        self.resolve(archive_path)
            .is_some_and(|p| matches!(self.nodes.get(&p), Some(Node::File(_))))
    }

    /// The errors reading a file on disk would give (ENOENT, EISDIR), for the same messages.
    fn not_found() -> std::io::Error {
        std::io::Error::from_raw_os_error(2)
    }

    fn is_a_dir() -> std::io::Error {
        std::io::Error::from_raw_os_error(21)
    }
}

fn not_utf8() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "stream did not contain valid UTF-8",
    )
}

/// What to keep of a file entry, by its name.
fn kept(entry: &mut Entry<'_>, src: &str) -> Result<Data, Failure> {
    let file_name = entry
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let whole = ["project.json", "workspaces.json", "cs.lock", "job.json"]
        .contains(&file_name.as_str())
        || file_name.ends_with(".csg");
    let read_err = |e: std::io::Error| -> Failure {
        Error::in_whole_file(format!("bad archive: {e}"))
            .in_file(src)
            .into()
    };
    if whole {
        let mut bytes = Vec::new();
        (&mut *entry)
            .take(KEPT_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(read_err)?;
        if bytes.len() as u64 > KEPT_MAX {
            return Err(Error::new(
                Place::Entry(entry.shown.clone()),
                format!(
                    "more than {} MiB: too large to check from the archive (unpack it and \
                     check the folder)",
                    KEPT_MAX >> 20
                ),
            )
            .in_file(src)
            .into());
        }
        return Ok(Data::Kept(bytes));
    }
    if !file_name.ends_with(".cs") {
        return Ok(Data::Unread);
    }
    let mut head = Vec::new();
    (&mut *entry)
        .take(CS_HEAD)
        .read_to_end(&mut head)
        .map_err(read_err)?;
    // The length that counts is the bytes present, never the size the entry declares.
    let rest = std::io::copy(entry, &mut std::io::sink()).map_err(read_err)?;
    let len = head.len() as u64 + rest;
    let name = format!("{src}:{}", entry.path.display());
    Ok(Data::Rows(
        Dataset::from_head(head, len, &name)
            .map(|d| d.rows())
            .map_err(|e| e.to_string()),
    ))
}

impl ProjectFiles for ArchiveFiles {
    fn shown(&self, rel: &Path) -> String {
        format!("{}:{}", self.name, self.root.join(rel).display())
    }

    fn read_json(&self, rel: &Path) -> Result<Value, Error> {
        let io = |e: std::io::Error| Error::io(&e, Place::File).in_file(&self.shown(rel));
        let text = match self.node(rel) {
            Some(Node::File(Data::Kept(bytes))) => {
                std::str::from_utf8(bytes).map_err(|_| io(not_utf8()))?
            }
            Some(Node::Dir) => return Err(io(Self::is_a_dir())),
            Some(Node::File(_)) => {
                return Err(Error::in_whole_file(
                    "not read from the archive (check reads project.json, workspaces.json, \
                     cs.lock, job.json and .csg files)",
                )
                .in_file(&self.shown(rel)))
            }
            _ => return Err(io(Self::not_found())),
        };
        serde_json::from_str(text).map_err(|e| {
            Error::new(Place::Line(e.line() as u64), format!("not JSON: {e}"))
                .in_file(&self.shown(rel))
        })
    }

    fn read_text(&self, rel: &Path) -> Result<String, String> {
        match self.node(rel) {
            Some(Node::File(Data::Kept(bytes))) => {
                String::from_utf8(bytes.clone()).map_err(|_| not_utf8().to_string())
            }
            Some(Node::File(_)) => Err("not read from the archive (check reads project.json, \
                                         workspaces.json, cs.lock, job.json and .csg files)"
                .into()),
            _ => Err(Self::not_found().to_string()),
        }
    }

    fn is_file(&self, rel: &Path) -> bool {
        matches!(self.node(rel), Some(Node::File(_)))
    }

    fn exists(&self, rel: &Path) -> bool {
        self.node(rel).is_some()
    }

    fn top_folders(&self) -> Vec<String> {
        self.children(&self.root)
            .into_iter()
            .filter(|c| {
                self.resolve(c)
                    .is_some_and(|p| matches!(self.nodes.get(&p), Some(Node::Dir)))
            })
            .filter_map(|c| c.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect()
    }

    fn csgs_in(&self, folder: &str) -> Vec<PathBuf> {
        let Some(dir) = self.resolve(&self.root.join(folder)) else {
            return Vec::new();
        };
        self.children(&dir)
            .into_iter()
            .filter(|c| c.extension().is_some_and(|x| x == "csg"))
            .filter_map(|c| c.file_name().map(|n| Path::new(folder).join(n)))
            .collect()
    }

    fn rows_of(&self, rel: &Path) -> Result<u64, String> {
        let missing = |what: String| format!("{}: {what}", self.shown(rel));
        match self.node(rel) {
            Some(Node::File(Data::Rows(rows))) => rows.clone(),
            Some(Node::File(_)) => Err(missing(
                "not a .cs file by its name: its rows are not read from an archive".into(),
            )),
            Some(_) => Err(missing(cs_format::error::io_message(&Self::is_a_dir()))),
            None => Err(missing(cs_format::error::io_message(&Self::not_found()))),
        }
    }

    fn link_out(&self, rel: &str) -> Result<Option<LinkOut>, Error> {
        let mut at = self.root.clone();
        for part in Path::new(rel).components() {
            at.push(part);
            let Some(Node::Symlink(text)) = self.nodes.get(&at) else {
                if self.nodes.contains_key(&at) {
                    continue;
                }
                return Ok(None);
            };
            // Resolved; or, leading nowhere, its text taken from the link's folder.
            let target = self.resolve(&at).unwrap_or_else(|| {
                let mut t = at.parent().unwrap_or(Path::new("")).to_path_buf();
                for c in text.components() {
                    match c {
                        Component::ParentDir => {
                            t.pop();
                        }
                        Component::Normal(n) => t.push(n),
                        _ => {}
                    }
                }
                t
            });
            if !target.starts_with(&self.root) {
                let link = at
                    .strip_prefix(&self.root)
                    .unwrap_or(&at)
                    .display()
                    .to_string();
                let target = PathBuf::from(format!("{}:{}", self.name, target.display()));
                return Ok(Some(LinkOut { link, target }));
            }
        }
        Ok(None)
    }

    fn walk(&self) -> Walked {
        let mut walked = Walked::default();
        for (path, node) in self.nodes.range(self.root.clone()..) {
            if !path.starts_with(&self.root) {
                break;
            }
            if !matches!(node, Node::Symlink(_)) {
                continue;
            }
            let rel = path
                .strip_prefix(&self.root)
                .unwrap_or(path)
                .display()
                .to_string();
            match self.resolve(path) {
                None => walked.dangling.push(rel),
                Some(to) if self.root.starts_with(&to) => {
                    let target = format!("{}:{}", self.name, to.display());
                    walked.not_followed.push((rel, target));
                }
                Some(_) => {}
            }
        }
        for l in &self.left_out {
            let path = l.path.strip_prefix(&self.root).unwrap_or(&l.path);
            walked
                .out_of_archive
                .push((path.display().to_string(), l.target.clone()));
        }
        walked.dangling.sort();
        walked.not_followed.sort();
        walked
    }
}
