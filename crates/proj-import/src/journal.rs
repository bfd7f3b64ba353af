//! The import journal, `PROJECT/.csutils-import-journal.json`: the whole change (every file's
//! original and new text, the registry entry, the record to print), written and locked before
//! any project file changes and removed when the change is complete. It appears atomically and
//! exclusively (written under a temporary name, then hard-linked to its name), so one import of
//! a project runs at a time; its `flock` tells a live import from one that was killed. A killed
//! import is rolled forward by running it again, or undone by `proj-import rollback`.

use crate::instance::{registered_json, Registered};
use cs_cli::{io_failure, Failure};
use cs_format::project::job::to_json_text;
use cs_format::project::shown;
use cs_format::{Error, Place};
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The journal's file name in the project folder.
pub const FILE_NAME: &str = cs_format::project::IMPORT_JOURNAL;

/// One file the import changes.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// Relative to the project folder.
    pub rel: String,
    /// Its text before the import (None: it did not exist).
    pub original: Option<String>,
    /// Its text after.
    pub new: String,
}

/// Everything an import does, decided before it does any of it.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The instance folder (canonical).
    pub instance_dir: String,
    /// The source as given (a folder or an archive), to find an interrupted import again.
    pub source: String,
    /// The registry entry (its `dir` is the project folder).
    pub entry: Registered,
    /// The entry it replaces (the same folder imported again with --force).
    pub replaces: Option<Registered>,
    /// The project number.
    pub number: u64,
    /// The files, in the order they are written.
    pub files: Vec<FileChange>,
    /// The JSON record printed when the import is complete.
    pub record: Value,
}

impl Plan {
    fn to_json(&self) -> Value {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| json!({"path": f.rel, "original": f.original, "new": f.new}))
            .collect();
        json!({
            "journal": "csutils proj-import",
            "version": 1,
            "instance_dir": self.instance_dir,
            "source": self.source,
            "entry": registered_json(&self.entry),
            "replaces": self.replaces.as_ref().map(registered_json),
            "number": self.number,
            "files": files,
            "record": self.record,
        })
    }

    fn from_json(doc: &Value) -> Option<Plan> {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let entry = |v: &Value| {
            Some(Registered {
                uid: text(v, "uid")?,
                dir: text(v, "dir")?,
                title: text(v, "title")?,
                imported_at: text(v, "imported_at")?,
                source_uid: text(v, "source_uid").unwrap_or_default(),
                source_instance: text(v, "source_instance").unwrap_or_default(),
                source: text(v, "source").unwrap_or_default(),
            })
        };
        let mut files = Vec::new();
        for f in doc.get("files")?.as_array()? {
            files.push(FileChange {
                rel: text(f, "path")?,
                original: text(f, "original"),
                new: text(f, "new")?,
            });
        }
        Some(Plan {
            instance_dir: text(doc, "instance_dir")?,
            source: text(doc, "source")?,
            entry: entry(doc.get("entry")?)?,
            replaces: match doc.get("replaces") {
                None | Some(Value::Null) => None,
                Some(v) => Some(entry(v)?),
            },
            number: doc.get("number")?.as_u64()?,
            files,
            record: doc.get("record")?.clone(),
        })
    }

    /// The project folder.
    pub fn project(&self) -> &Path {
        Path::new(&self.entry.dir)
    }
}

/// A journal on disk, locked by this process.
#[derive(Debug)]
pub struct Journal {
    _lock: File,
    /// What it records.
    pub plan: Plan,
}

/// What is in a project folder's journal place.
#[derive(Debug)]
pub enum Found {
    /// No journal: no import is under way or was interrupted.
    Nothing,
    /// An import is running now (its lock is held).
    Live,
    /// An import was interrupted; its journal is now locked by us.
    Interrupted(Box<Journal>),
}

/// Look for a journal in `project` (a canonical path).
pub fn find(project: &Path) -> Result<Found, Failure> {
    let path = project.join(FILE_NAME);
    // An import that finishes while we look removes its journal; look again then.
    for _ in 0..3 {
        let mut file = match File::open(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
            Err(e) => return Err(io_failure(&e, &path)),
            Ok(f) => f,
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(Found::Live),
            Err(std::fs::TryLockError::Error(e)) => return Err(io_failure(&e, &path)),
        }
        if !cs_format::temp::still_named(&file, &path) {
            continue;
        }
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).map_err(|e| io_failure(&e, &path))?;
        let plan = parse(&text, project)
            .map_err(|what| Failure::from(Error::in_whole_file(what).in_file(&shown(&path))))?;
        return Ok(Found::Interrupted(Box::new(Journal { _lock: file, plan })));
    }
    Ok(Found::Nothing)
}

/// A journal's plan, if it is one, is about the folder it is in, and names only files in it.
fn parse(text: &str, project: &Path) -> Result<Plan, String> {
    let plan = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|doc| Plan::from_json(&doc))
        .ok_or("is not a csutils import journal (remove it by hand if so)")?;
    if Path::new(&plan.entry.dir) != project {
        return Err(format!(
            "is the journal of an import of {}, and this folder is a copy or was moved: move it \
             back there to finish or roll back that import",
            plan.entry.dir
        ));
    }
    let inside = |rel: &str| {
        let p = Path::new(rel);
        !rel.is_empty()
            && p.components().count() <= 2
            && p.components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
    };
    if let Some(bad) = plan.files.iter().find(|f| !inside(&f.rel)) {
        return Err(format!("names a file outside the project: {}", bad.rel));
    }
    Ok(plan)
}

/// Put the journal of `plan` in the project folder, which is at `now` (its final place, or a
/// folder that will move there): written, synced and locked under a temporary name, then
/// hard-linked to its name, which fails when a journal is already there (`Ok(None)`).
pub fn create(plan: Plan, now: &Path) -> Result<Option<Journal>, Failure> {
    let project = now.to_path_buf();
    let path = project.join(FILE_NAME);
    // The temporary file is locked from birth (cs_format::temp); the journal keeps that lock
    // through the same handle.
    let mut tmp = cs_format::temp::file_in(&project).map_err(|e| io_failure(&e, &project))?;
    let text = to_json_text(&plan.to_json());
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| io_failure(&e, &path))?;
    let linked = std::fs::hard_link(tmp.path(), &path);
    let (lock, _temporary_name_removed_on_drop) = tmp.into_parts();
    match linked {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(None),
        Err(e) => Err(io_failure(&e, &path)),
        Ok(()) => {
            // The journal's name is on disk before any file it protects changes.
            File::open(&project)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_failure(&e, &project))?;
            Ok(Some(Journal { _lock: lock, plan }))
        }
    }
}

impl Journal {
    /// Whether every file still holds the text the plan was made from.
    pub fn originals_unchanged(&self) -> bool {
        self.plan.files.iter().all(|f| {
            let now = std::fs::read_to_string(self.plan.project().join(&f.rel)).ok();
            now == f.original
        })
    }

    /// Write every file's new text (atomically each; again if already written).
    pub fn write_new(
        &self,
        mut before_each: impl FnMut(usize) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        for (i, f) in self.plan.files.iter().enumerate() {
            before_each(i)?;
            write_text(&self.plan.project().join(&f.rel), &f.new)?;
        }
        Ok(())
    }

    /// Put every file back as it was (a file that did not exist is removed).
    pub fn restore(&self) -> Result<(), Failure> {
        for f in self.plan.files.iter().rev() {
            let path = self.plan.project().join(&f.rel);
            match &f.original {
                Some(text) => write_text(&path, text)?,
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(io_failure(&e, &path))
                    }
                    _ => {}
                },
            }
        }
        Ok(())
    }

    /// Remove the journal: the change is complete (or undone).
    pub fn remove(self) -> Result<(), Failure> {
        let path = self.plan.project().join(FILE_NAME);
        std::fs::remove_file(&path).map_err(|e| io_failure(&e, &path))
    }
}

fn write_text(path: &Path, text: &str) -> Result<(), Failure> {
    cs_cli::write_atomically(path, true, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| Error::io(&e, Place::File))
    })
}
