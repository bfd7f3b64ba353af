//! "Clear intermediate results" (seed feature 4): which files of iterative jobs can go.
//!
//! For every non-passthrough result with more than one version, the versions kept are the final
//! one and every version another job's connection names by number. A metafile is deleted when
//! no kept (result, version) uses it; a data file is deleted when a deleted metafile names it,
//! it lies inside that job's folder, and no surviving registered metafile anywhere in the
//! project names it. Active jobs are skipped, and so are jobs whose `job.json` has no status
//! (they may be running), jobs whose folder is a symlink or whose `job.json` leads out of the
//! project (clearing rewrites it), and jobs that the text of an unusable `job.json` names (its
//! connections, unknown, may take their versions by number). A job whose `job.json` cannot be
//! used is never part of a plan. Only regular files inside the
//! job folder are ever listed: never a symlink, never a file reached through one.

use crate::container::dataset::Dataset;
use crate::project::job::{Job, Version};
use crate::project::project_relative;
use crate::project::{link_out, shown, Project, ProjectJob};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A file a clear removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    /// Path relative to the project folder.
    pub path: String,
    /// `st_size`.
    pub bytes: u64,
    /// Bytes the disk gets back (0 when another hard link keeps the data).
    pub freed: u64,
    /// Why it goes.
    pub reason: String,
}

/// An intermediate version kept because other jobs use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptVersion {
    /// Output (group) name.
    pub group: String,
    /// Result name.
    pub result: String,
    /// The version number.
    pub version: u64,
    /// Its metafile, relative to the project folder.
    pub metafile: String,
    /// The jobs whose connections name it.
    pub referenced_by: Vec<String>,
}

/// The clear of one job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobClear {
    /// `J8`.
    pub job: String,
    /// The job folder's name in the project.
    pub folder: String,
    /// Why the job is left alone, when it is.
    pub skipped: Option<String>,
    /// Files to remove, by path.
    pub delete: Vec<Deletion>,
    /// Intermediate versions kept for other jobs.
    pub kept: Vec<KeptVersion>,
    /// (group, result, version) to unregister from `job.json`.
    pub removed_versions: Vec<(String, String, u64)>,
}

impl JobClear {
    /// Bytes of the files listed.
    pub fn bytes(&self) -> u64 {
        self.delete.iter().map(|d| d.bytes).sum()
    }
}

/// The clear of a project (or of some of its jobs).
#[derive(Debug, Clone, Default)]
pub struct ClearPlan {
    /// One entry per job considered, in project order.
    pub jobs: Vec<JobClear>,
    /// Registered metafiles that could not be read: (path, why). Their data files are unknown,
    /// so a plan with any is not safe to carry out.
    pub unreadable_metafiles: Vec<(String, String)>,
}

/// True when `rel` (project-relative) is inside the job folder `folder`.
fn inside(rel: &str, folder: &str) -> bool {
    rel.strip_prefix(folder)
        .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
}

/// A regular file at `project_dir/rel` reached with no symlink on its way from the project
/// folder: its (size, link count).
pub fn plain_file(project_dir: &Path, rel: &str) -> Option<(u64, u64)> {
    let mut at = project_dir.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let md = std::fs::symlink_metadata(&at).ok()?;
        let last = i + 1 == parts.len();
        if md.file_type().is_symlink() || (last && !md.is_file()) || (!last && !md.is_dir()) {
            return None;
        }
        if last {
            return Some((md.len(), md.nlink()));
        }
    }
    None
}

/// Why a job's `job.json`, which a clear rewrites, must be left alone: it is a link out of the
/// project (the rewrite would change another tree's document).
fn job_json_leads_out(project: &Project, folder: &str) -> Option<String> {
    match link_out(&project.dir, &format!("{folder}/job.json")) {
        Ok(None) => None,
        Ok(Some(l)) => Some(format!("{l}: job.json is not rewritten through it")),
        Err(e) => Some(format!("cannot tell where job.json leads: {e}")),
    }
}

/// Every data-file path (`…/path` fields) a metafile names, project-relative.
fn named_paths(project: &Project, metafile: &str) -> Result<HashSet<String>, String> {
    let path = project.dir.join(metafile);
    let ds = Dataset::open(&path, &shown(&path)).map_err(|e| e.to_string())?;
    let mut names = HashSet::new();
    ds.for_each_path(|p| {
        if !names.contains(p) {
            if let Some(rel) = project_relative(p, &project.dir) {
                names.insert(rel);
            }
        }
    })
    .map_err(|e| e.to_string())?;
    Ok(names)
}

/// Versions named by number: (job, group, result, version) -> the jobs whose connections
/// name them.
type NamedVersions = BTreeMap<(String, String, String, u64), BTreeSet<String>>;

/// Files (project-relative) and why each goes.
type Reasons = BTreeMap<String, String>;

/// Work out the clear of `only` (job uids; empty: every job) in `project`.
pub fn plan(project: &Project, only: &[String]) -> ClearPlan {
    let named = versions_named_by_number(project);
    let registered: BTreeSet<String> = project
        .jobs
        .iter()
        .flat_map(|pj| pj.job.metafiles())
        .filter_map(|m| project_relative(m, &project.dir))
        .collect();
    let named_by_unusable = named_by_unusable(project);
    let mut plan = ClearPlan::default();
    // Per job: metafiles that go, and files an interrupted clear left (checked like data files).
    let mut metafiles_going: Vec<Reasons> = Vec::new();
    let mut pending: Vec<Reasons> = Vec::new();
    for pj in &project.jobs {
        if !only.is_empty() && !only.contains(&pj.job.uid) {
            continue;
        }
        let mut clear = JobClear {
            job: pj.job.uid.clone(),
            folder: pj.folder.clone(),
            skipped: skip_reason(project, pj, &named_by_unusable),
            ..JobClear::default()
        };
        let (going, left_over) = if clear.skipped.is_none() {
            going_and_left_over(project, pj, &named, &mut clear)
        } else {
            Default::default()
        };
        plan.jobs.push(clear);
        metafiles_going.push(going);
        pending.push(left_over);
    }
    let unreadable = &mut plan.unreadable_metafiles;
    let candidates = named_data_files(project, &plan.jobs, &metafiles_going, pending, unreadable);
    let mut still_named = HashSet::new();
    if candidates.iter().any(|c| !c.is_empty()) {
        still_named = named_by_survivors(project, &registered, &metafiles_going, unreadable);
    }
    for ((clear, going), data) in plan.jobs.iter_mut().zip(metafiles_going).zip(candidates) {
        let mut files = going;
        for (p, reason) in data {
            if !still_named.contains(&p) && !registered.contains(&p) {
                files.entry(p).or_insert(reason);
            }
        }
        list_deletions(project, clear, files);
    }
    plan.unreadable_metafiles.sort();
    plan.unreadable_metafiles.dedup();
    plan
}

/// Every version another job's connection names by number, and the jobs that name it.
fn versions_named_by_number(project: &Project) -> NamedVersions {
    let mut named = NamedVersions::new();
    for pj in &project.jobs {
        for input in &pj.job.inputs {
            if let Version::Number(v) = input.version {
                named
                    .entry((
                        input.job.clone(),
                        input.group.clone(),
                        input.result.clone(),
                        v,
                    ))
                    .or_default()
                    .insert(pj.job.uid.clone());
            }
        }
    }
    named
}

/// Why a job is left alone, if it is: active, no status, possibly named by an unusable
/// `job.json`, a symlinked folder, or a `job.json` that leads out of the project.
fn skip_reason(
    project: &Project,
    pj: &ProjectJob,
    named_by_unusable: &BTreeMap<String, String>,
) -> Option<String> {
    let folder_is_link = std::fs::symlink_metadata(project.dir.join(&pj.folder))
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(true);
    if pj.job.is_active() {
        Some(format!("active job (status {})", pj.job.status))
    } else if pj.job.status.is_empty() {
        Some("job.json has no status: the job may be running".to_string())
    } else if let Some(by) = named_by_unusable.get(&pj.job.uid) {
        Some(format!(
            "{by}/job.json cannot be used and names {}: a version it takes may be among those cleared",
            pj.job.uid
        ))
    } else if folder_is_link {
        Some("the job folder is a symlink".to_string())
    } else {
        job_json_leads_out(project, &pj.folder)
    }
}

/// For a job that is cleared: its metafiles that go and the files an interrupted clear left,
/// project-relative, with their reasons (the versions go into `clear`).
fn going_and_left_over(
    project: &Project,
    pj: &ProjectJob,
    named: &NamedVersions,
    clear: &mut JobClear,
) -> (Reasons, Reasons) {
    let going = versions_to_clear(&pj.job, named, clear)
        .into_iter()
        .filter_map(|(m, why)| Some((project_relative(&m, &project.dir)?, why)))
        .collect();
    let mut left_over = Reasons::new();
    for pending in &pj.job.pending_deletions {
        if let Some(p) = project_relative(pending, &project.dir) {
            left_over.insert(p, "left over from an interrupted clear".to_string());
        }
    }
    (going, left_over)
}

/// Per job: the data files inside its folder that its going metafiles name (not themselves
/// going), added to what an interrupted clear left (`pending`). Metafiles that cannot be read
/// go into `unreadable`.
fn named_data_files(
    project: &Project,
    jobs: &[JobClear],
    metafiles_going: &[Reasons],
    pending: Vec<Reasons>,
    unreadable: &mut Vec<(String, String)>,
) -> Vec<Reasons> {
    let mut candidates = Vec::new();
    for ((clear, going), left_over) in jobs.iter().zip(metafiles_going).zip(pending) {
        let mut data = left_over;
        for (metafile, _) in going.iter().filter(|(m, _)| m.ends_with(".cs")) {
            if plain_file(&project.dir, metafile).is_none() {
                continue;
            }
            match named_paths(project, metafile) {
                Ok(paths) => {
                    for p in paths {
                        if inside(&p, &clear.folder) && !going.contains_key(&p) {
                            data.entry(p)
                                .or_insert_with(|| format!("data file named by {metafile}"));
                        }
                    }
                }
                Err(why) => unreadable.push((metafile.clone(), why)),
            }
        }
        candidates.push(data);
    }
    candidates
}

/// The data files that the registered metafiles which survive the clear name. Metafiles that
/// cannot be read go into `unreadable`.
fn named_by_survivors(
    project: &Project,
    registered: &BTreeSet<String>,
    metafiles_going: &[Reasons],
    unreadable: &mut Vec<(String, String)>,
) -> HashSet<String> {
    let all_going: HashSet<&String> = metafiles_going.iter().flat_map(|g| g.keys()).collect();
    let mut still_named = HashSet::new();
    for m in registered.iter().filter(|m| !all_going.contains(m)) {
        if plain_file(&project.dir, m).is_none() && !project.dir.join(m).is_file() {
            continue; // missing: names nothing
        }
        match named_paths(project, m) {
            Ok(paths) => still_named.extend(paths),
            Err(why) => unreadable.push((m.clone(), why)),
        }
    }
    still_named
}

/// List in `clear` the `files` that are regular files inside its job folder, reached with no
/// symlink, with the bytes each frees.
fn list_deletions(project: &Project, clear: &mut JobClear, files: Reasons) {
    for (path, reason) in files {
        if !inside(&path, &clear.folder) {
            continue;
        }
        if let Some((bytes, links)) = plain_file(&project.dir, &path) {
            clear.delete.push(Deletion {
                path,
                bytes,
                freed: if links > 1 { 0 } else { bytes },
                reason,
            });
        }
    }
}

/// The job uids (`"J6"`, as a JSON string) that the text of each unusable `job.json` names, as
/// far as the text can be read: the jobs whose versions it may take by number. Each maps to the
/// first unusable job folder that names it.
fn named_by_unusable(project: &Project) -> BTreeMap<String, String> {
    let mut named = BTreeMap::new();
    for u in &project.unusable {
        let path = project.dir.join(&u.folder).join("job.json");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for uid in quoted_job_uids(&String::from_utf8_lossy(&bytes)) {
            named.entry(uid).or_insert_with(|| u.folder.clone());
        }
    }
    named
}

/// Every `"J<n>"` (quotes included) in a text, without the quotes.
fn quoted_job_uids(text: &str) -> BTreeSet<String> {
    let mut uids = BTreeSet::new();
    for (i, _) in text.match_indices("\"J") {
        let rest = &text[i + 2..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest.as_bytes().get(digits) == Some(&b'"') {
            uids.insert(format!("J{}", &rest[..digits]));
        }
    }
    uids
}

/// For one job: which versions go (into `clear`), which are kept for others, and the metafiles
/// that no kept version uses (with the reason each goes).
fn versions_to_clear(job: &Job, named: &NamedVersions, clear: &mut JobClear) -> Reasons {
    let mut kept_metafiles = HashSet::new();
    let mut dropped: Vec<(String, String)> = Vec::new();
    for r in &job.outputs {
        let last = r.versions.len().saturating_sub(1);
        for (i, (&v, m)) in r.versions.iter().zip(&r.metafiles).enumerate() {
            let iterative = !r.passthrough && r.versions.len() > 1;
            let users = named.get(&(job.uid.clone(), r.group.clone(), r.name.clone(), v));
            if !iterative || i == last {
                kept_metafiles.insert(m.clone());
            } else if let Some(users) = users {
                kept_metafiles.insert(m.clone());
                clear.kept.push(KeptVersion {
                    group: r.group.clone(),
                    result: r.name.clone(),
                    version: v,
                    metafile: m.clone(),
                    referenced_by: users.iter().cloned().collect(),
                });
            } else {
                clear
                    .removed_versions
                    .push((r.group.clone(), r.name.clone(), v));
                dropped.push((
                    m.clone(),
                    format!("intermediate version {v} of {}/{}", r.group, r.name),
                ));
            }
        }
    }
    let mut going = BTreeMap::new();
    for (m, reason) in dropped {
        if !kept_metafiles.contains(&m) {
            going.entry(m).or_insert(reason);
        }
    }
    going
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_quoted_job_uids_are_taken_from_a_text() {
        let text = r#"{"uid": "J9", "parents": ["J6", "J08"], "t": "J7x", "n": "J+5", "x": J4, "J"#;
        let found: Vec<String> = quoted_job_uids(text).into_iter().collect();
        assert_eq!(found, ["J08", "J6", "J9"]);
    }
}
