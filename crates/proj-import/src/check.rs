//! Is a project folder intact enough to import? Every problem found, blocking or not.

use cs_format::csg::Csg;
use cs_format::job::{Job, Version};
use cs_format::project::{job_number, link_out, read_json, read_project_doc, shown};
use cs_format::Dataset;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

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
    /// The job folders (`J…` with a readable job.json) and their jobs.
    pub jobs: Vec<(String, Job)>,
    /// The project document, when readable.
    pub project: Option<Value>,
}

/// Options that turn problems into warnings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allow {
    /// Active jobs will be imported as killed.
    pub active: bool,
    /// A foreign `cs.lock` will be replaced.
    pub foreign_lock: bool,
}

/// Rows of a `.cs` file, or why it cannot be read.
fn rows_of(path: &Path, cache: &mut HashMap<String, Result<u64, String>>) -> Result<u64, String> {
    let key = shown(path);
    cache
        .entry(key.clone())
        .or_insert_with(|| {
            Dataset::open(path, &key)
                .map(|d| d.rows())
                .map_err(|e| e.to_string())
        })
        .clone()
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
fn links_out(dir: &Path, folders: &[String]) -> Vec<Problem> {
    let mut found: Vec<Problem> = Vec::new();
    for file in rewritten(folders) {
        let (path, detail) = match link_out(dir, &file) {
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
    let mut out = Checked::default();
    let mut add = |problem, path: &str, detail: String, blocking| {
        out.problems.push(Problem {
            problem,
            path: path.to_string(),
            detail,
            blocking,
        })
    };
    match read_project_doc(dir) {
        Ok(doc) => out.project = Some(doc),
        Err(e) => {
            // Not a project: nothing else is looked at (not even walked).
            add("bad_project_json", "project.json", e.to_string(), true);
            return out;
        }
    }
    match read_json(&dir.join("workspaces.json")) {
        Ok(doc) if doc.is_array() => {}
        Ok(_) => add(
            "bad_workspaces_json",
            "workspaces.json",
            "is not a JSON list".into(),
            true,
        ),
        Err(e) => add(
            "bad_workspaces_json",
            "workspaces.json",
            e.to_string(),
            true,
        ),
    }
    let mut folders: Vec<String> = std::fs::read_dir(dir)
        .map(|l| {
            l.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| job_number(n).is_some())
                .collect()
        })
        .unwrap_or_default();
    folders.sort_by_key(|n| job_number(n));
    for p in links_out(dir, &folders) {
        add(p.problem, &p.path, p.detail, p.blocking);
    }
    let mut cache = HashMap::new();
    for folder in folders {
        let jj = format!("{folder}/job.json");
        let job = match read_json(&dir.join(&jj)) {
            Ok(doc) => match Job::from_document(&doc) {
                Ok(job) => job,
                Err(e) => {
                    add(
                        "bad_job_json",
                        &jj,
                        e.in_file(&shown(&dir.join(&jj))).to_string(),
                        true,
                    );
                    continue;
                }
            },
            Err(e) => {
                add("bad_job_json", &jj, e.to_string(), true);
                continue;
            }
        };
        if job.is_active() {
            let detail = if allow.active {
                format!("status {}: imported as killed", job.status)
            } else {
                format!(
                    "status {}: mark it completed or killed first, or give --force",
                    job.status
                )
            };
            add("active_job", &folder, detail, !allow.active);
        }
        for r in &job.outputs {
            let Some(m) = r.metafile(Version::Final) else {
                continue;
            };
            let path = dir.join(m);
            if !path.is_file() {
                add(
                    "missing_metafile",
                    m,
                    format!(
                        "{} {}/{} names it, but it is missing",
                        job.uid, r.group, r.name
                    ),
                    true,
                );
                continue;
            }
            match rows_of(&path, &mut cache) {
                Err(why) => add("unreadable_metafile", m, why, true),
                Ok(rows) => {
                    if let Some(n) = r.num_items.filter(|&n| n != rows && !r.passthrough) {
                        add(
                            "num_items",
                            m,
                            format!(
                                "{} rows where {} {}/{} records {n}",
                                rows, job.uid, r.group, r.name
                            ),
                            true,
                        );
                    }
                }
            }
        }
        // The job's .csg files against their .cs files.
        let job_dir = dir.join(&folder);
        let mut csgs: Vec<_> = std::fs::read_dir(&job_dir)
            .map(|l| {
                l.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "csg"))
                    .collect()
            })
            .unwrap_or_default();
        csgs.sort();
        for csg_path in csgs {
            let rel = format!(
                "{folder}/{}",
                csg_path.file_name().unwrap_or_default().to_string_lossy()
            );
            let parsed = std::fs::read_to_string(&csg_path)
                .map_err(|e| e.to_string())
                .and_then(|t| Csg::parse(&t).map_err(|e| e.to_string()));
            let csg = match parsed {
                Ok(c) => c,
                Err(why) => {
                    add("bad_csg", &rel, why, true);
                    continue;
                }
            };
            for (slot, r) in &csg.results {
                let meta = match Csg::resolve(&job_dir, &r.metafile) {
                    Ok(p) => p,
                    Err(why) => {
                        add("bad_csg", &rel, format!("{slot}: {why}"), true);
                        continue;
                    }
                };
                match rows_of(&meta, &mut cache) {
                    Err(why) => add("bad_csg", &rel, format!("{slot}: {why}"), true),
                    Ok(rows) if rows != r.num_items => add(
                        "bad_csg",
                        &rel,
                        format!(
                            "{slot}: num_items {} but {} has {rows} rows",
                            r.num_items, r.metafile
                        ),
                        true,
                    ),
                    Ok(_) => {}
                }
            }
        }
        out.jobs.push((folder, job));
    }
    // Links that lead nowhere: raw data that did not travel with the project.
    let walk = cs_format::walk::walk_following(dir, "", &std::sync::atomic::AtomicU64::new(0));
    for d in &walk.dangling {
        add(
            "dangling_link",
            d,
            "the link's target is missing (raw data not archived with the project?)".into(),
            false,
        );
    }
    for (p, why) in &walk.unreadable {
        add("unreadable", p, why.clone(), true);
    }
    for (p, target) in &walk.not_followed {
        let detail = format!("a link to {target}, which holds the project: not followed");
        add("link_not_followed", p, detail, false);
    }
    // The lock.
    if dir.join("cs.lock").exists() {
        let holder = crate::instance::lock_holder(dir);
        let ours = holder.is_some() && holder.as_deref() == our_instance;
        if !ours {
            let who = holder.unwrap_or_else(|| "an unknown instance".into());
            let detail = if allow.foreign_lock {
                format!("held by instance {who}: replaced")
            } else {
                format!(
                    "held by instance {who}: detach it there first, or give --steal-lock if that instance is gone"
                )
            };
            add("foreign_lock", "cs.lock", detail, !allow.foreign_lock);
        }
    }
    out
}
