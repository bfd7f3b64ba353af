//! Is a project folder intact enough to import? Every problem found, blocking or not.

use cs_format::project::csg::Csg;
use cs_format::project::job::{Job, Version};
use cs_format::project::{job_number, link_out, not_a_project_document, read_json, shown, LinkOut};
use cs_format::Dataset;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;

/// One problem of a project folder.
#[derive(Debug, Clone)]
pub struct Problem {
    /// What kind: `bad_job_json`, `missing_metafile`, `active_job`, …
    pub problem: &'static str,
    /// Where, relative to the project folder.
    pub path: String,
    /// What exactly.
    pub detail: String,
    /// True when it stops an import.
    pub blocking: bool,
}

impl Problem {
    /// The JSON-lines record.
    pub fn to_json(&self) -> Value {
        json!({
            "problem": self.problem,
            "path": self.path,
            "detail": self.detail,
            "blocking": self.blocking,
        })
    }

    /// `path: detail` for messages.
    pub fn one_line(&self) -> String {
        format!("{}: {}", self.path, self.detail)
    }
}

/// What a check found, and the parts of the project an import needs.
#[derive(Debug, Default)]
pub struct Checked {
    /// Problems, in the order found.
    pub problems: Vec<Problem>,
    /// The job folders (`J…` with a readable job.json), in job-number order.
    pub jobs: Vec<CheckedJob>,
    /// The project document, when readable.
    pub project: Option<Value>,
}

/// A job folder whose `job.json` is a job document, as the check read it (an import rewrites
/// that document rather than reading the file again).
#[derive(Debug)]
pub struct CheckedJob {
    /// `J3`.
    pub folder: String,
    /// The job.
    pub job: Job,
    /// Its `job.json`, parsed.
    pub doc: Value,
}

/// Options that turn problems into warnings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allow {
    /// Active jobs will be imported as killed.
    pub active: bool,
    /// A foreign `cs.lock` will be replaced.
    pub foreign_lock: bool,
    /// Links of an archive that lead outside it are left out (`--allow-missing`).
    pub links_out: bool,
}

/// What a walk of the project found among its links and entries.
#[derive(Debug, Default)]
pub struct Walked {
    /// Symlinks that lead nowhere, by path.
    pub dangling: Vec<String>,
    /// Entries that could not be read: (path, why).
    pub unreadable: Vec<(String, String)>,
    /// Links not followed because they lead to a folder that holds the project: (path, target).
    pub not_followed: Vec<(String, String)>,
    /// Links of an archive that lead outside it: (path, target).
    pub out_of_archive: Vec<(String, PathBuf)>,
}

/// A link of an archive that leads outside it (raw data that did not travel?): blocking, unless
/// such links are left out (`--allow-missing`), which an import then does without creating them.
pub fn link_out_of_archive(path: &str, target: &Path, left_out: bool) -> Problem {
    let to = target.display();
    let detail = if left_out {
        format!("a link to {to}, outside the archive: not unpacked (--allow-missing)")
    } else {
        format!(
            "a link to {to}, outside the archive (data that did not travel?): give \
             --allow-missing to import without it"
        )
    };
    Problem {
        problem: "link_out_of_archive",
        path: path.to_string(),
        detail,
        blocking: !left_out,
    }
}

/// The files of a project as a check reads them: a folder on disk ([`Folder`]) or an archive
/// read as a stream ([`crate::archive_files::ArchiveFiles`]). Paths are relative to the
/// project folder; links are followed.
pub trait ProjectFiles {
    /// How messages name the file `rel`.
    fn shown(&self, rel: &Path) -> String;
    /// `rel` parsed as JSON.
    fn read_json(&self, rel: &Path) -> Result<Value, cs_format::Error>;
    /// `rel` as text.
    fn read_text(&self, rel: &Path) -> Result<String, String>;
    /// True when `rel` is a regular file.
    fn is_file(&self, rel: &Path) -> bool;
    /// True when something (even a link that leads nowhere) is at `rel`.
    fn exists(&self, rel: &Path) -> bool;
    /// The names of the project's top-level folders (and links to folders).
    fn top_folders(&self) -> Vec<String>;
    /// The `.csg` files of a folder, as paths relative to the project.
    fn csgs_in(&self, folder: &str) -> Vec<PathBuf>;
    /// The rows of the `.cs` file at `rel` (relative, or absolute as a `.csg` may name it), or
    /// why it cannot be read.
    fn rows_of(&self, rel: &Path) -> Result<u64, String>;
    /// The first link on the way to `rel` that leads out of the project.
    fn link_out(&self, rel: &str) -> Result<Option<LinkOut>, cs_format::Error>;
    /// Links that lead nowhere or back to the project, entries that cannot be read.
    fn walk(&self) -> Walked;
}

/// A project folder on disk.
pub struct Folder<'a> {
    dir: &'a Path,
    /// How messages name the folder, when not by its path (an unpacked archive's temporary
    /// folder is named `ARCHIVE:NAME`, as `check ARCHIVE` names it).
    named: Option<&'a str>,
    rows: RefCell<HashMap<String, Result<u64, String>>>,
}

impl<'a> Folder<'a> {
    /// The project folder `dir`, named in messages as `named` (else by its path).
    pub fn new(dir: &'a Path, named: Option<&'a str>) -> Self {
        Folder {
            dir,
            named,
            rows: RefCell::new(HashMap::new()),
        }
    }
}

impl ProjectFiles for Folder<'_> {
    fn shown(&self, rel: &Path) -> String {
        match self.named {
            Some(n) if n.ends_with(':') => format!("{n}{}", rel.display()),
            Some(n) => format!("{n}/{}", rel.display()),
            None => shown(&self.dir.join(rel)),
        }
    }

    fn read_json(&self, rel: &Path) -> Result<Value, cs_format::Error> {
        read_json(&self.dir.join(rel)).map_err(|e| cs_format::Error {
            file: Some(self.shown(rel)),
            ..e
        })
    }

    fn read_text(&self, rel: &Path) -> Result<String, String> {
        std::fs::read_to_string(self.dir.join(rel)).map_err(|e| e.to_string())
    }

    fn is_file(&self, rel: &Path) -> bool {
        self.dir.join(rel).is_file()
    }

    fn exists(&self, rel: &Path) -> bool {
        self.dir.join(rel).exists()
    }

    fn top_folders(&self) -> Vec<String> {
        std::fs::read_dir(self.dir)
            .map(|l| {
                l.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn csgs_in(&self, folder: &str) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.join(folder))
            .map(|l| {
                l.filter_map(|e| e.ok())
                    .map(|e| Path::new(folder).join(e.file_name()))
                    .filter(|p| p.extension().is_some_and(|x| x == "csg"))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn rows_of(&self, rel: &Path) -> Result<u64, String> {
        let path = self.dir.join(rel);
        let key = self.shown(rel);
        self.rows
            .borrow_mut()
            .entry(key.clone())
            .or_insert_with(|| {
                Dataset::open(&path, &key)
                    .map(|d| d.rows())
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    fn link_out(&self, rel: &str) -> Result<Option<LinkOut>, cs_format::Error> {
        link_out(self.dir, rel)
    }

    fn walk(&self) -> Walked {
        let w = cs_format::project::walk::walk_following(self.dir, "", &AtomicU64::new(0));
        Walked {
            dangling: w.dangling,
            unreadable: w.unreadable,
            not_followed: w.not_followed,
            out_of_archive: Vec::new(),
        }
    }
}

/// The files an import rewrites: `project.json`, `workspaces.json`, `cs.lock` and each job
/// folder's `job.json`.
fn rewritten(folders: &[String]) -> Vec<String> {
    let top = ["project.json", "workspaces.json", "cs.lock"].map(String::from);
    let jobs = folders.iter().map(|f| format!("{f}/job.json"));
    top.into_iter().chain(jobs).collect()
}

/// A blocking problem for each file an import would rewrite through a link that leads out of
/// the project (a job folder linked into another project, a `job.json` that is a link): the
/// import would change the other tree's files.
fn links_out(files: &dyn ProjectFiles, folders: &[String]) -> Vec<Problem> {
    let mut found: Vec<Problem> = Vec::new();
    for file in rewritten(folders) {
        let (path, detail) = match files.link_out(&file) {
            Ok(None) => continue,
            Ok(Some(l)) => {
                let to = l.target.display();
                let detail = format!(
                    "a link to {to}, outside the project: importing would rewrite {file} there"
                );
                (l.link, detail)
            }
            Err(e) => (file.clone(), format!("cannot tell where it leads: {e}")),
        };
        found.push(Problem {
            problem: "link_out_of_project",
            path,
            detail,
            blocking: true,
        });
    }
    found
}

/// Check a project folder. `our_instance` is the id of the instance importing it (a `cs.lock`
/// with another id is foreign).
pub fn check(dir: &Path, our_instance: Option<&str>, allow: Allow) -> Checked {
    check_files(&Folder::new(dir, None), our_instance, allow)
}

/// Check a project's files (a folder's, or an archive's).
pub fn check_files(files: &dyn ProjectFiles, our_instance: Option<&str>, allow: Allow) -> Checked {
    let mut out = Checked::default();
    match read_project_json(files) {
        Ok(doc) => out.project = Some(doc),
        Err(e) => {
            // Not a project: nothing else is looked at (not even walked).
            out.add("bad_project_json", "project.json", e.to_string(), true);
            return out;
        }
    }
    check_workspaces_json(files, &mut out);
    let mut folders: Vec<String> = files
        .top_folders()
        .into_iter()
        .filter(|n| job_number(n).is_some())
        .collect();
    folders.sort_by_key(|n| job_number(n));
    out.problems.extend(links_out(files, &folders));
    for folder in folders {
        let Some((job, doc)) = read_job_json(files, &folder, &mut out) else {
            continue;
        };
        check_active(&job, &folder, allow, &mut out);
        check_metafiles(files, &job, &mut out);
        let mut csgs = files.csgs_in(&folder);
        csgs.sort();
        for csg_path in csgs {
            check_csg(files, Path::new(&folder), &csg_path, &mut out);
        }
        out.jobs.push(CheckedJob { folder, job, doc });
    }
    check_walk(files, allow, &mut out);
    check_lock(files, our_instance, allow, &mut out);
    out
}

impl Checked {
    /// Note a problem.
    fn add(&mut self, problem: &'static str, path: &str, detail: String, blocking: bool) {
        self.problems.push(Problem {
            problem,
            path: path.to_string(),
            detail,
            blocking,
        });
    }
}

/// `project.json`, which must be a project document.
fn read_project_json(files: &dyn ProjectFiles) -> Result<Value, cs_format::Error> {
    let doc = files.read_json(Path::new("project.json"))?;
    match not_a_project_document(&doc) {
        None => Ok(doc),
        Some(what) => {
            Err(cs_format::Error::in_whole_file(what)
                .in_file(&files.shown(Path::new("project.json"))))
        }
    }
}

/// `workspaces.json` must be a JSON list.
fn check_workspaces_json(files: &dyn ProjectFiles, out: &mut Checked) {
    let detail = match files.read_json(Path::new("workspaces.json")) {
        Ok(doc) if doc.is_array() => return,
        Ok(_) => "is not a JSON list".to_string(),
        Err(e) => e.to_string(),
    };
    out.add("bad_workspaces_json", "workspaces.json", detail, true);
}

/// A job folder's `job.json` as a job document, or a `bad_job_json` problem.
fn read_job_json(
    files: &dyn ProjectFiles,
    folder: &str,
    out: &mut Checked,
) -> Option<(Job, Value)> {
    let jj = format!("{folder}/job.json");
    let detail = match files.read_json(Path::new(&jj)) {
        Ok(doc) => match Job::from_document(&doc) {
            Ok(job) => return Some((job, doc)),
            Err(e) => e.in_file(&files.shown(Path::new(&jj))).to_string(),
        },
        Err(e) => e.to_string(),
    };
    out.add("bad_job_json", &jj, detail, true);
    None
}

/// An active job blocks, unless it is to be imported as killed (`--force`).
fn check_active(job: &Job, folder: &str, allow: Allow, out: &mut Checked) {
    if !job.is_active() {
        return;
    }
    let detail = if allow.active {
        format!("status {}: imported as killed", job.status)
    } else {
        format!(
            "status {}: mark it completed or killed first, or give --force",
            job.status
        )
    };
    out.add("active_job", folder, detail, !allow.active);
}

/// Each output's final metafile must be there, readable, with the rows job.json records.
fn check_metafiles(files: &dyn ProjectFiles, job: &Job, out: &mut Checked) {
    for r in &job.outputs {
        let Some(m) = r.metafile(Version::Final) else {
            continue;
        };
        let path = Path::new(m);
        if !files.is_file(path) {
            let detail = format!(
                "{} {}/{} names it, but it is missing",
                job.uid, r.group, r.name
            );
            out.add("missing_metafile", m, detail, true);
            continue;
        }
        match files.rows_of(path) {
            Err(why) => out.add("unreadable_metafile", m, why, true),
            Ok(rows) => {
                if let Some(n) = r.num_items.filter(|&n| n != rows && !r.passthrough) {
                    let detail = format!(
                        "{} rows where {} {}/{} records {n}",
                        rows, job.uid, r.group, r.name
                    );
                    out.add("num_items", m, detail, true);
                }
            }
        }
    }
}

/// A job's `.csg` against its `.cs` files: readable, each metafile there with the rows it
/// records.
fn check_csg(files: &dyn ProjectFiles, job_dir: &Path, csg_path: &Path, out: &mut Checked) {
    let rel = csg_path.display().to_string();
    let parsed = files
        .read_text(csg_path)
        .and_then(|t| Csg::parse(&t).map_err(|e| e.to_string()));
    let csg = match parsed {
        Ok(c) => c,
        Err(why) => return out.add("bad_csg", &rel, why, true),
    };
    for (slot, r) in &csg.results {
        let meta = match Csg::resolve(job_dir, &r.metafile) {
            Ok(p) => p,
            Err(why) => {
                out.add("bad_csg", &rel, format!("{slot}: {why}"), true);
                continue;
            }
        };
        match files.rows_of(&meta) {
            Err(why) => out.add("bad_csg", &rel, format!("{slot}: {why}"), true),
            Ok(rows) if rows != r.num_items => {
                let detail = format!(
                    "{slot}: num_items {} but {} has {rows} rows",
                    r.num_items, r.metafile
                );
                out.add("bad_csg", &rel, detail, true);
            }
            Ok(_) => {}
        }
    }
}

/// What a walk of the project finds: links that lead nowhere (raw data that did not travel
/// with the project), entries that cannot be read, links not followed, links of an archive
/// that lead outside it.
fn check_walk(files: &dyn ProjectFiles, allow: Allow, out: &mut Checked) {
    let walk = files.walk();
    for d in &walk.dangling {
        let detail = "the link's target is missing (raw data not archived with the project?)";
        out.add("dangling_link", d, detail.into(), false);
    }
    for (p, why) in &walk.unreadable {
        out.add("unreadable", p, why.clone(), true);
    }
    for (p, target) in &walk.not_followed {
        let detail = format!("a link to {target}, which holds the project: not followed");
        out.add("link_not_followed", p, detail, false);
    }
    for (p, target) in &walk.out_of_archive {
        out.problems
            .push(link_out_of_archive(p, target, allow.links_out));
    }
}

/// A `cs.lock` of another instance blocks, unless it is to be replaced (`--steal-lock`).
fn check_lock(
    files: &dyn ProjectFiles,
    our_instance: Option<&str>,
    allow: Allow,
    out: &mut Checked,
) {
    if !files.exists(Path::new("cs.lock")) {
        return;
    }
    let holder = files
        .read_json(Path::new("cs.lock"))
        .ok()
        .and_then(|l| l.get("instance_id")?.as_str().map(str::to_string));
    if holder.is_some() && holder.as_deref() == our_instance {
        return;
    }
    let who = holder.unwrap_or_else(|| "an unknown instance".into());
    let detail = if allow.foreign_lock {
        format!("held by instance {who}: replaced")
    } else {
        format!(
            "held by instance {who}: detach it there first, or give --steal-lock if that instance is gone"
        )
    };
    out.add("foreign_lock", "cs.lock", detail, !allow.foreign_lock);
}
