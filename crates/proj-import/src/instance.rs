//! The instance: a folder holding `instance.json` (its id, the next project number and the
//! registry of projects) and `instance.lock`, which serialises commands on one instance.

use cs_cli::Failure;
use cs_format::project::job::to_json_text;
use cs_format::project::{read_json, shown};
use cs_format::{Error, Place};
use serde_json::{json, Value};
use std::fs::File;
use std::path::{Path, PathBuf};

/// One registered project.
#[derive(Debug, Clone)]
pub struct Registered {
    /// `P1`.
    pub uid: String,
    /// Absolute project folder.
    pub dir: String,
    /// Title after import.
    pub title: String,
    /// When it was imported.
    pub imported_at: String,
    /// Its uid before import.
    pub source_uid: String,
    /// The `instance_id` of its `cs.lock` before import (empty: it had none).
    pub source_instance: String,
    /// What was imported: the archive (absolute path, "-" for standard input) or the folder.
    pub source: String,
}

/// An instance, locked for as long as this value lives.
pub struct Instance {
    /// The folder.
    pub dir: PathBuf,
    /// 32 hex digits.
    pub id: String,
    /// The number the next project gets.
    pub next_project: u64,
    /// The registry.
    pub projects: Vec<Registered>,
    /// Folders other than `imports/` that archives were unpacked in (`--dest`), where an
    /// interrupted import is looked for.
    pub unpack_folders: Vec<String>,
    _lock: File,
}

/// The instance folder: `--instance`, else `$CSUTILS_INSTANCE`, else
/// `$XDG_DATA_HOME/csutils/instance` (`~/.local/share/csutils/instance`).
pub fn instance_dir(given: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(d) = given {
        return Ok(d.to_path_buf());
    }
    if let Some(d) = std::env::var_os("CSUTILS_INSTANCE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or_else(|| {
            Failure::Usage("no instance folder: give --instance DIR or set CSUTILS_INSTANCE".into())
        })?;
    Ok(data.join("csutils/instance"))
}

/// A new random instance id (32 hex digits from the kernel's random source).
fn new_id() -> Result<String, Failure> {
    let mut bytes = [0u8; 16];
    let path = Path::new("/dev/urandom");
    let mut f = File::open(path).map_err(|e| cs_cli::io_failure(&e, path))?;
    std::io::Read::read_exact(&mut f, &mut bytes).map_err(|e| cs_cli::io_failure(&e, path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The id of an existing instance, without locking or creating it.
pub fn peek_id(dir: &Path) -> Option<String> {
    read_json(&dir.join("instance.json"))
        .ok()?
        .get("instance_id")?
        .as_str()
        .map(str::to_string)
}

impl Instance {
    /// Open (creating on first use) and lock an instance; `exclusive` for commands that change it.
    pub fn open(dir: &Path, exclusive: bool) -> Result<Instance, Failure> {
        let lock = lock_instance(dir, exclusive)?;
        let path = dir.join("instance.json");
        if !path.exists() {
            // instance.json is written by the first command that registers a project.
            return Ok(Instance {
                dir: dir.to_path_buf(),
                id: new_id()?,
                next_project: 1,
                projects: Vec::new(),
                unpack_folders: Vec::new(),
                _lock: lock,
            });
        }
        let doc = read_json(&path)?;
        let name = shown(&path);
        let field = |k: &str| -> Result<&Value, Failure> {
            doc.get(k).ok_or_else(|| {
                Error::new(Place::Key(k.into()), "is missing")
                    .in_file(&name)
                    .into()
            })
        };
        let id = field("instance_id")?
            .as_str()
            .ok_or_else(|| {
                Failure::from(
                    Error::new(Place::Key("instance_id".into()), "is not a string").in_file(&name),
                )
            })?
            .to_string();
        let next_project = field("next_project_number")?.as_u64().unwrap_or(1);
        let mut projects = Vec::new();
        for (i, p) in field("projects")?
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let text = |k: &str| -> Result<String, Failure> {
                p.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        Error::new(Place::Key(format!("projects[{i}].{k}")), "is missing")
                            .in_file(&name)
                            .into()
                    })
            };
            projects.push(Registered {
                uid: text("uid")?,
                dir: text("dir")?,
                title: text("title")?,
                imported_at: text("imported_at")?,
                source_uid: text("source_uid").unwrap_or_default(),
                source_instance: text("source_instance").unwrap_or_default(),
                source: text("source").unwrap_or_default(),
            });
        }
        let unpack_folders =
            cs_format::project::string_list(&doc, "unpack_folders").unwrap_or_default();
        Ok(Instance {
            dir: dir.to_path_buf(),
            id,
            next_project,
            projects,
            unpack_folders,
            _lock: lock,
        })
    }

    /// Open and lock an instance that must already exist (list, detach): a missing folder is
    /// an error, and nothing is created.
    pub fn open_existing(dir: &Path, exclusive: bool) -> Result<Instance, Failure> {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => Instance::open(dir, exclusive),
            Ok(_) => Err(
                Error::in_whole_file("is not a folder (an instance is a folder)")
                    .in_file(&shown(dir))
                    .into(),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::in_whole_file(
                "no such instance folder (nothing imported yet)",
            )
            .in_file(&shown(dir))
            .into()),
            Err(e) => Err(cs_cli::io_failure(&e, dir)),
        }
    }

    /// Remove what this run made of an instance in which nothing was registered (no
    /// `instance.json`): its `instance.lock` (still held, so a command waiting for it sees it
    /// gone and starts again), an empty `imports/`, and, with `folder`, the instance folder if
    /// that leaves it empty.
    pub fn remove_if_unused(&self, folder: bool) {
        if self.dir.join("instance.json").exists() {
            return;
        }
        let _ = std::fs::remove_dir(self.dir.join("imports"));
        let _ = std::fs::remove_file(self.dir.join("instance.lock"));
        if folder {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }

    /// Write `instance.json` atomically.
    pub fn save(&self) -> Result<(), Failure> {
        let mut doc = json!({
            "instance_id": self.id,
            "next_project_number": self.next_project,
            "projects": self.projects.iter().map(registered_json).collect::<Vec<_>>(),
        });
        if !self.unpack_folders.is_empty() {
            doc["unpack_folders"] = json!(self.unpack_folders);
        }
        let text = to_json_text(&doc);
        cs_cli::write_atomically(&self.dir.join("instance.json"), true, |w| {
            std::io::Write::write_all(w, text.as_bytes()).map_err(|e| Error::io(&e, Place::File))
        })
    }

    /// The instance folder, resolved (as journals name it).
    pub fn canonical_dir(&self) -> Result<String, Failure> {
        std::fs::canonicalize(&self.dir)
            .map(|d| d.display().to_string())
            .map_err(|e| cs_cli::io_failure(&e, &self.dir))
    }

    /// The registered project in `dir`, if any.
    pub fn registered_at(&self, dir: &str) -> Option<&Registered> {
        self.projects.iter().find(|p| p.dir == dir)
    }

    /// A project imported from `source` (an archive's absolute path) whose folder is still
    /// there.
    pub fn imported_from(&self, source: &str) -> Option<&Registered> {
        self.projects
            .iter()
            .find(|p| p.source == source && still_there(p))
    }

    /// The registered project (its folder still there) that a project folder is a copy of:
    /// the same project under the same lock — with our `cs.lock`, a registered uid; with
    /// another instance's, the uid and lock a registered project had before its import.
    pub fn original_of(&self, project: &Path) -> Option<&Registered> {
        let holder = lock_holder(project).filter(|h| !h.is_empty())?;
        let doc = read_json(&project.join("project.json")).ok()?;
        let uid = doc.get("uid")?.as_str()?;
        let same = |p: &&Registered| {
            if holder == self.id {
                p.uid == uid
            } else {
                p.source_uid == uid && p.source_instance == holder
            }
        };
        self.projects.iter().filter(same).find(|p| still_there(p))
    }

    /// The next free project uid number (above every registered one).
    pub fn next_number(&self) -> u64 {
        let max = self
            .projects
            .iter()
            .filter_map(|p| p.uid.strip_prefix('P')?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        self.next_project.max(max + 1)
    }
}

/// The `instance_id` in a project's `cs.lock`, when it has a readable one.
pub fn lock_holder(project: &Path) -> Option<String> {
    read_json(&project.join("cs.lock"))
        .ok()?
        .get("instance_id")?
        .as_str()
        .map(str::to_string)
}

/// Whether a registered project's folder still holds its `project.json`.
pub fn still_there(p: &Registered) -> bool {
    Path::new(&p.dir).join("project.json").is_file()
}

/// A registry entry as JSON.
pub fn registered_json(p: &Registered) -> Value {
    json!({
        "uid": p.uid,
        "dir": p.dir,
        "title": p.title,
        "imported_at": p.imported_at,
        "source_uid": p.source_uid,
        "source_instance": p.source_instance,
        "source": p.source,
    })
}

/// Open and lock `dir/instance.lock` (making the folder and the file when needed). A lock file
/// removed or replaced while this command waited for it (a refused first import removes the
/// folder it made) is not the instance's lock any more: open it again.
fn lock_instance(dir: &Path, exclusive: bool) -> Result<std::fs::File, Failure> {
    let lock_path = dir.join("instance.lock");
    let mut attempt = 0;
    loop {
        attempt += 1;
        std::fs::create_dir_all(dir).map_err(|e| cs_cli::io_failure(&e, dir))?;
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path);
        let lock = match opened {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 10 => continue,
            Err(e) => return Err(cs_cli::io_failure(&e, &lock_path)),
        };
        let locked = if exclusive {
            lock.lock()
        } else {
            lock.lock_shared()
        };
        locked.map_err(|e| cs_cli::io_failure(&e, &lock_path))?;
        if cs_format::temp::still_named(&lock, &lock_path) {
            return Ok(lock);
        }
        if attempt >= 10 {
            return Err(Error::in_whole_file(
                "keeps being replaced while this command waits for it",
            )
            .in_file(&shown(&lock_path))
            .into());
        }
    }
}
