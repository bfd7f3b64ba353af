//! A cryoSPARC project folder on disk (FORMATS.md §10): `project.json` and the job folders
//! that hold a `job.json`. Reading the documents is here and in [`job`]; writing them (the
//! edits csutils makes to job.json, project.json and workspaces.json) in [`documents`] and
//! [`workspaces`].

pub mod clear;
pub mod csg;
pub mod documents;
pub mod events;
mod group;
pub mod job;
pub mod timestamp;
pub mod walk;
pub mod workspaces;

pub use group::open_group;

use crate::error::{Error, Place, Result};
use crate::project::job::Job;
use serde_json::Value;
use std::path::{Component, Path, PathBuf};

/// True when `dir` holds a `project.json`.
pub fn is_project_dir(dir: &Path) -> bool {
    dir.join("project.json").is_file()
}

/// True when `dir` holds a `job.json` that is a file.
pub fn is_job_dir(dir: &Path) -> bool {
    dir.join("job.json").is_file()
}

/// True when `dir` holds an entry named `job.json` of any kind (a file, or a folder, a link or
/// anything else in its place, which then cannot be used): a job folder, usable or not.
pub fn has_job_json(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join("job.json")).is_ok()
}

/// A job folder named where a project folder was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFolder {
    /// The folder's name (`J8`).
    pub job: String,
    /// The project folder around it (the parent, spelled as given), when that holds a
    /// `project.json`.
    pub project: Option<PathBuf>,
}

/// When `dir` is a job folder rather than a project folder (it holds a `job.json` and no
/// `project.json`): its name and its project.
pub fn as_job_folder(dir: &Path) -> Option<JobFolder> {
    if !has_job_json(dir) || dir.join("project.json").exists() {
        return None;
    }
    // `J8`, `P3/J8/` have a name and a parent as spelled; `.` and `..` only once resolved.
    let named = match (dir.parent(), dir.file_name()) {
        (Some(parent), Some(job)) => (parent.to_path_buf(), job.to_os_string()),
        _ => {
            let abs = std::fs::canonicalize(dir).ok()?;
            (abs.parent()?.to_path_buf(), abs.file_name()?.to_os_string())
        }
    };
    let (parent, job) = named;
    let parent = if parent.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        parent
    };
    Some(JobFolder {
        job: job.to_string_lossy().into_owned(),
        project: is_project_dir(&parent).then_some(parent),
    })
}

/// The journal `proj-import` keeps in a project folder while it imports it: every file's
/// original, so that an interrupted import can be finished or undone.
pub const IMPORT_JOURNAL: &str = ".csutils-import-journal.json";

/// An error when the import of the project in `dir` is not finished (its journal is there):
/// a tool that changes the project must not, since finishing or undoing the import puts back
/// files (job.json among them) that would then name what the change removed.
pub fn refuse_unfinished_import(dir: &Path) -> Result<()> {
    if std::fs::symlink_metadata(dir.join(IMPORT_JOURNAL)).is_err() {
        return Ok(());
    }
    Err(Error::in_whole_file(format!(
        "its import is not finished ({IMPORT_JOURNAL} is there): run the proj-import command \
         again to finish it, or proj-import rollback {} to undo it, first",
        shown(dir)
    ))
    .in_file(&shown(dir)))
}

/// A job folder of a project and its document.
#[derive(Debug, Clone)]
pub struct ProjectJob {
    /// The folder's name inside the project (`J8`).
    pub folder: String,
    /// The parsed `job.json`.
    pub job: Job,
}

/// A job folder of a project whose `job.json` cannot be used (missing, unreadable, not UTF-8,
/// not JSON, not an object, or a key the tools need holds the wrong kind of value).
#[derive(Debug, Clone)]
pub struct UnusableJob {
    /// The folder's name inside the project (`J7`); it also names the job, as cryoSPARC names
    /// job folders after their uid.
    pub folder: String,
    /// Why, naming the file relative to the project folder (`J7/job.json: line 3: …`).
    pub error: Error,
}

/// A project folder and its jobs.
#[derive(Debug, Clone)]
pub struct Project {
    /// The folder, as given.
    pub dir: PathBuf,
    /// `P3` (empty when unknown).
    pub uid: String,
    /// The title (empty when unknown).
    pub title: String,
    /// Job folders whose `job.json` could be read, in job-number order.
    pub jobs: Vec<ProjectJob>,
    /// Job folders whose `job.json` cannot be used, in job-number order. Each tool reports
    /// them, one by one, and goes on with the others.
    pub unusable: Vec<UnusableJob>,
}

/// A path for messages.
pub fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Read and parse a JSON document, with errors naming the file.
pub fn read_json(path: &Path) -> Result<Value> {
    read_json_named(path, &shown(path))
}

/// Read and parse a JSON document, with errors naming the file as `name`: a byte offset for
/// text that is not UTF-8, a line for text that is not JSON.
fn read_json_named(path: &Path, name: &str) -> Result<Value> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(&e, Place::File).in_file(name))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::at_byte(e.valid_up_to() as u64, "is not UTF-8 text").in_file(name))?;
    serde_json::from_str(text).map_err(|e| {
        Error::new(Place::Line(e.line() as u64), format!("not JSON: {e}")).in_file(name)
    })
}

/// Why a parsed `project.json` is not a project document, or `None` when it is one. A project
/// document is a JSON object whose `uid` is a non-empty string (`"P3"`), as every cryoSPARC
/// version writes it; anything else (`[]`, a string, an object without `uid`) means the folder
/// is not a project, and no tool may act on it as one.
pub fn not_a_project_document(doc: &Value) -> Option<String> {
    let what = match doc {
        Value::Object(obj) => match obj.get("uid") {
            Some(Value::String(uid)) if !uid.is_empty() => return None,
            Some(Value::String(_)) => "its \"uid\" is empty",
            Some(_) => "its \"uid\" is not a string",
            None => "it has no \"uid\"",
        },
        Value::Array(_) => "it is a JSON list",
        Value::String(_) => "it is a JSON string",
        Value::Number(_) => "it is a JSON number",
        Value::Bool(_) => "it is true or false",
        Value::Null => "it is null",
    };
    Some(format!(
        "is not a project document (a JSON object with a \"uid\"): {what}"
    ))
}

/// Read a project folder's `project.json` and check that it is a project document
/// ([`not_a_project_document`]); errors name the file.
pub fn read_project_doc(dir: &Path) -> Result<Value> {
    let path = dir.join("project.json");
    let doc = read_json(&path)?;
    match not_a_project_document(&doc) {
        None => Ok(doc),
        Some(what) => Err(Error::in_whole_file(what).in_file(&shown(&path))),
    }
}

/// Read a job folder's `job.json`, taking what is there ([`Job::from_value`]); errors name
/// the file.
pub fn read_job(dir: &Path) -> Result<Job> {
    let path = dir.join("job.json");
    read_job_named(&path, &shown(&path))
}

/// Read a job folder's `job.json`, which must be a whole job document with a uid, a type and a
/// status ([`Job::from_document`]); errors name the file.
pub fn read_job_document(dir: &Path) -> Result<Job> {
    let path = dir.join("job.json");
    let doc = read_json(&path)?;
    Job::from_document(&doc).map_err(|e| e.in_file(&shown(&path)))
}

/// Read the `job.json` of job folder `folder` inside `parent` (a project folder), taking what
/// is there ([`Job::from_value`]); errors name the file as `FOLDER/job.json`. A job.json
/// without a `uid` is known by its folder's name.
pub fn read_job_in(parent: &Path, folder: &str) -> Result<Job> {
    let name = format!("{folder}/job.json");
    let mut job = read_job_named(&parent.join(&name), &name)?;
    if job.uid.is_empty() {
        job.uid = folder.to_string();
    }
    Ok(job)
}

fn read_job_named(path: &Path, name: &str) -> Result<Job> {
    let doc = read_json_named(path, name)?;
    Job::from_value(&doc).map_err(|e| e.in_file(name))
}

/// The number in a job folder name (`J12` → 12).
pub fn job_number(name: &str) -> Option<u64> {
    name.strip_prefix('J')?.parse().ok()
}

/// The next free job number of a project: one more than the largest `J<n>` folder.
pub fn next_job_number(dir: &Path) -> Result<u64> {
    let io = |e: std::io::Error| Error::io(&e, Place::File).in_file(&shown(dir));
    let mut max = 0;
    for e in std::fs::read_dir(dir).map_err(io)? {
        if let Some(n) = e.map_err(io)?.file_name().to_str().and_then(job_number) {
            max = max.max(n);
        }
    }
    Ok(max + 1)
}

/// The order of job folders in a project: by job number, then folders not named `J<n>` by name.
pub fn folder_order(a: &str, b: &str) -> std::cmp::Ordering {
    (job_number(a).is_none(), job_number(a), a).cmp(&(job_number(b).is_none(), job_number(b), b))
}

/// The job folders of a project, in [`folder_order`]: sub-folders that hold an entry named
/// `job.json`, and every `J<n>` folder (one without a usable job.json is an unusable job).
fn job_folders(dir: &Path) -> Result<Vec<String>> {
    let mut folders = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io(&e, Place::File).in_file(&shown(dir)))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&e, Place::File).in_file(&shown(dir)))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !path.is_dir() {
            continue;
        }
        // A `J<n>` folder is a job even when its job.json is missing (a half-deleted job).
        let is_job =
            std::fs::symlink_metadata(path.join("job.json")).is_ok() || job_number(&name).is_some();
        if is_job {
            folders.push(name);
        }
    }
    folders.sort_by(|a, b| folder_order(a, b));
    Ok(folders)
}

impl Project {
    /// Open a project folder: its `project.json` (which must be a project document) and every
    /// job folder, job by job ([`read_job_in`]): each `job.json` is read into [`Project::jobs`]
    /// or, when it cannot be used, into [`Project::unusable`] with the reason.
    pub fn open(dir: &Path) -> Result<Project> {
        let doc = read_project_doc(dir)?;
        let text = |k: &str| {
            doc.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut project = Project {
            dir: dir.to_path_buf(),
            uid: text("uid"),
            title: text("title"),
            jobs: Vec::new(),
            unusable: Vec::new(),
        };
        for folder in job_folders(dir)? {
            match read_job_in(dir, &folder) {
                Ok(job) => project.jobs.push(ProjectJob { folder, job }),
                Err(error) => project.unusable.push(UnusableJob { folder, error }),
            }
        }
        Ok(project)
    }

    /// The job with this uid.
    pub fn job(&self, uid: &str) -> Option<&ProjectJob> {
        self.jobs.iter().find(|j| j.job.uid == uid)
    }

    /// The unusable job folder named `folder`.
    pub fn unusable_job(&self, folder: &str) -> Option<&UnusableJob> {
        self.unusable.iter().find(|u| u.folder == folder)
    }
}

/// A link on the way to a path a tool writes inside a project that leads out of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkOut {
    /// The link, relative to the project folder (`J8`, `J8/job.json`, `exports`).
    pub link: String,
    /// Where it leads, resolved (for a link that leads nowhere: its text, resolved as far as
    /// the text goes).
    pub target: PathBuf,
}

impl std::fmt::Display for LinkOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is a link to {}, outside the project",
            self.link,
            self.target.display()
        )
    }
}

/// The first link on the way from `project_dir` to `rel` (a plain path inside the project,
/// which need not exist yet) that leads out of the project, so that nothing written at `rel`
/// lands in another tree. Each link is resolved with `canonicalize` and compared, component by
/// component, with the resolved project folder; a link that leads nowhere is resolved from its
/// text. The last component counts too: a `job.json` that is a link out of the project is one.
pub fn link_out(project_dir: &Path, rel: &str) -> Result<Option<LinkOut>> {
    let io = |e: std::io::Error, p: &Path| Error::io(&e, Place::File).in_file(&shown(p));
    let root = std::fs::canonicalize(project_dir).map_err(|e| io(e, project_dir))?;
    let mut at = project_dir.to_path_buf();
    let mut so_far = PathBuf::new();
    for part in Path::new(rel).components() {
        at.push(part);
        so_far.push(part);
        let md = match std::fs::symlink_metadata(&at) {
            Ok(md) => md,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e, &at)),
        };
        if !md.file_type().is_symlink() {
            continue;
        }
        let target = resolve_link(&at);
        if !target.starts_with(&root) {
            let link = so_far.display().to_string();
            return Ok(Some(LinkOut { link, target }));
        }
    }
    Ok(None)
}

/// Where a symlink leads: resolved, or for one that leads nowhere its text read from the
/// link's resolved folder, with `.` and `..` taken lexically.
fn resolve_link(link: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(link) {
        return p;
    }
    let text = std::fs::read_link(link).unwrap_or_default();
    let folder = link
        .parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_default();
    let mut out = PathBuf::from("/");
    for c in folder.join(text).components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(n) => out.push(n),
            _ => {}
        }
    }
    out
}

/// The strings of the list `doc[key]` (`workspace_uids`, `unpack_folders`), when it is a list;
/// items that are not strings are passed over.
pub fn string_list(doc: &Value, key: &str) -> Option<Vec<String>> {
    let list = doc.get(key)?.as_array()?;
    Some(
        list.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
}

/// `path` (from a metafile or `job.json`) relative to the project folder, when it lies inside
/// it: plain components only, no `..`. Absolute paths under `project_dir` are made relative.
pub fn project_relative(path: &str, project_dir: &Path) -> Option<String> {
    let p = Path::new(path);
    let rel = if p.is_absolute() {
        let abs = std::fs::canonicalize(project_dir).ok()?;
        p.strip_prefix(&abs)
            .or_else(|_| p.strip_prefix(project_dir))
            .ok()?
            .to_path_buf()
    } else {
        p.to_path_buf()
    };
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_project_document_is_an_object_with_a_uid() {
        assert_eq!(not_a_project_document(&json!({"uid": "P3"})), None);
        for bad in [
            json!([]),
            json!("P3"),
            json!(3),
            json!(null),
            json!({"title": "T"}),
            json!({"uid": 3}),
            json!({"uid": ""}),
        ] {
            let why = not_a_project_document(&bad).unwrap();
            assert!(why.starts_with("is not a project document"), "{bad}: {why}");
        }
    }

    #[test]
    fn links_out_of_the_project_are_found_on_the_way_and_at_the_end() {
        let d = tempfile::tempdir().unwrap();
        let project = d.path().join("P");
        let other = d.path().join("other");
        std::fs::create_dir_all(project.join("J1")).unwrap();
        std::fs::create_dir_all(other.join("J8")).unwrap();
        std::fs::write(other.join("job.json"), "{}").unwrap();
        symlink(other.join("J8"), project.join("J8")).unwrap();
        symlink("../../other/job.json", project.join("J1/job.json")).unwrap();
        symlink("J1", project.join("J2")).unwrap();
        symlink("/nowhere/at/all", project.join("exports")).unwrap();
        let out = |rel: &str| link_out(&project, rel).unwrap().map(|l| l.link);
        assert_eq!(out("J8/job.json").as_deref(), Some("J8"));
        assert_eq!(out("J1/job.json").as_deref(), Some("J1/job.json"));
        assert_eq!(out("J2/job.json").as_deref(), Some("J2/job.json"));
        assert_eq!(out("exports/jobs/x").as_deref(), Some("exports"));
        assert_eq!(out("J1"), None);
        assert_eq!(out("imports/jobs"), None, "nothing there yet");
        let l = link_out(&project, "J8/job.json").unwrap().unwrap();
        assert_eq!(l.target, std::fs::canonicalize(other.join("J8")).unwrap());
        assert!(l.to_string().ends_with("outside the project"));
    }

    #[test]
    fn a_sibling_whose_name_starts_like_the_project_is_outside() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("P/J1")).unwrap();
        std::fs::create_dir_all(d.path().join("P2/J1")).unwrap();
        symlink("../P2/J1", d.path().join("P/J9")).unwrap();
        symlink("J1", d.path().join("P/J10")).unwrap();
        let p = d.path().join("P");
        assert!(link_out(&p, "J9/job.json").unwrap().is_some());
        assert!(link_out(&p, "J10/job.json").unwrap().is_none());
    }
}
