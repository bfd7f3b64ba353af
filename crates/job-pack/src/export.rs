//! `job-pack export`: a job, or one of its output groups, consolidated into `exports/` as
//! cryoSPARC's Export Job / Export group lay it out (FORMATS.md §10).

use cs_cli::Failure;
use cs_format::container::writer::{rewrite_data_paths, OutputFormat};
use cs_format::ops::join::{join_on_uid, JoinMode};
use cs_format::project::csg::{Csg, CsgGroup, CsgResult};
use cs_format::project::documents::{export_name, exported_job_document};
use cs_format::project::job::{to_json_text, Job, OutputResult, Version};
use cs_format::project::project_relative;
use cs_format::project::{
    link_out, read_job_document, read_json, read_project_doc, refuse_unfinished_import, shown,
};
use cs_format::{Dataset, Error, Place};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A job folder and the project around it.
pub struct JobPlace {
    /// The project folder.
    pub project_dir: PathBuf,
    /// The job folder's name in it.
    pub folder: String,
    /// The project uid (`P3`).
    pub project_uid: String,
    /// The job.
    pub job: Job,
}

/// `path` made absolute with its folders resolved but not its last component, so that a job
/// folder that is a link stays in the project that holds the link (`.` and `..` are resolved
/// whole).
fn resolved_folder(path: &Path) -> Result<PathBuf, Failure> {
    let io = |e: std::io::Error, p: &Path| cs_cli::io_failure(&e, p);
    match path.file_name() {
        Some(name) => {
            let parent = cs_cli::folder_of(path);
            let parent = std::fs::canonicalize(&parent).map_err(|e| io(e, &parent))?;
            Ok(parent.join(name))
        }
        _ => std::fs::canonicalize(path).map_err(|e| io(e, path)),
    }
}

/// Locate a job folder and its project (the parent folder, which must hold a project
/// document, and whose import, if it was imported, is finished). A job folder that is a link
/// is read through it; the export is written in the project that holds the link.
pub fn locate(job_dir: &Path) -> Result<JobPlace, Failure> {
    let abs = resolved_folder(job_dir)?;
    let project_dir = cs_cli::folder_of(&abs);
    refuse_unfinished_import(&project_dir)?;
    let job = read_job_document(job_dir)?;
    let folder = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let project_json = project_dir.join("project.json");
    if !project_json.is_file() {
        return Err(Error::in_whole_file(
            "is not inside a project folder (its parent has no project.json)",
        )
        .in_file(&shown(job_dir))
        .into());
    }
    let doc = read_project_doc(&project_dir)?;
    let project_uid = doc
        .get("uid")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| job.project_uid.clone());
    Ok(JobPlace {
        project_dir,
        folder,
        project_uid,
        job,
    })
}

/// What an export wrote, as JSON-lines records.
pub type Records = Vec<Value>;

/// Write one output group into `dest` (a folder being built at `dest_rel` in the project):
/// `<prefix>_exported.cs`, `<prefix>_exported.csg` and relative links to every data file the
/// `.cs` names. Returns the row count.
pub fn export_group(
    place: &JobPlace,
    group: &str,
    dest: &Path,
    dest_rel: &str,
    prefix: &str,
    records: &mut Records,
) -> Result<u64, Failure> {
    let job = &place.job;
    let results: Vec<&OutputResult> = job
        .outputs
        .iter()
        .filter(|r| r.group == group && !r.metafiles.is_empty())
        .collect();
    if results.is_empty() {
        return Err(Error::in_whole_file(format!(
            "{} has no output group '{group}' with results",
            job.uid
        ))
        .in_file(&shown(&place.project_dir.join(&place.folder)))
        .into());
    }
    let mut datasets = Vec::new();
    for m in final_metafiles(&results) {
        let path = place.project_dir.join(m);
        datasets.push(Dataset::open(&path, &shown(&path))?);
    }
    // Data files named in `…/path` fields become `>path`, linked beside the .cs.
    let mut linked = BTreeSet::new();
    let mut gone = BTreeSet::new();
    let project_dir = place.project_dir.clone();
    let mut edit = |fields: &[cs_format::Field], cells: &mut [Vec<u8>]| -> cs_format::Result<()> {
        rewrite_data_paths(fields, cells, &mut |text| {
            exported_data_path(text, &project_dir, &mut linked, &mut gone)
        });
        Ok(())
    };
    let spool = join_on_uid(datasets, dest, JoinMode::Inner, &mut edit)?;
    for rel in &gone {
        warn_not_exported(&project_dir.join(rel));
    }
    let rows = spool.rows();
    let cs_name = format!("{prefix}_exported.cs");
    let cs_path = dest.join(&cs_name);
    cs_cli::write_atomically(&cs_path, false, |w| spool.write(OutputFormat::Numpy, w))?;
    records.push(file_record(&cs_path, &format!("{dest_rel}/{cs_name}")));
    let csg_name = format!("{prefix}_exported.csg");
    let csg_path = dest.join(&csg_name);
    let text = exported_csg(job, group, &results, &cs_name, rows).to_yaml();
    cs_cli::write_atomically(&csg_path, false, |w| {
        std::io::Write::write_all(w, text.as_bytes()).map_err(|e| Error::io(&e, Place::File))
    })?;
    records.push(file_record(&csg_path, &format!("{dest_rel}/{csg_name}")));
    link_data_files(&linked, dest, dest_rel, records)?;
    Ok(rows)
}

/// The final metafile of each result, each once: passthrough files first (the group's files
/// are joined in this order, so the job's own fields win).
fn final_metafiles<'a>(results: &[&'a OutputResult]) -> Vec<&'a str> {
    let mut passthrough = Vec::new();
    let mut own = Vec::new();
    for r in results {
        let Some(m) = r.metafile(Version::Final) else {
            continue;
        };
        if passthrough.contains(&m) || own.contains(&m) {
            continue;
        }
        if r.passthrough {
            passthrough.push(m);
        } else {
            own.push(m);
        }
    }
    passthrough.extend(own);
    passthrough
}

/// What an export makes of a data path: one naming a file inside the project becomes `>path`
/// (noted in `linked`); one whose file is gone (a dangling link: a movie on a disk that is gone)
/// keeps its value and is noted in `gone`, to be named once on stderr.
fn exported_data_path(
    text: &str,
    project_dir: &Path,
    linked: &mut BTreeSet<String>,
    gone: &mut BTreeSet<String>,
) -> Option<String> {
    let rel = project_relative(text, project_dir).filter(|r| r == text)?;
    if !project_dir.join(&rel).is_file() {
        gone.insert(rel);
        return None;
    }
    let new = format!(">{rel}");
    linked.insert(rel);
    Some(new)
}

/// The exported group's `.csg`: every result in the one `.cs` `cs_name` of `rows` rows, the
/// group's type, title and description from job.json, created now.
fn exported_csg(
    job: &Job,
    group: &str,
    results: &[&OutputResult],
    cs_name: &str,
    rows: u64,
) -> Csg {
    let info = job.groups.iter().find(|g| g.name == group);
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Csg {
        created: Some(cs_format::project::timestamp::now_csg()),
        group: CsgGroup {
            description: info.and_then(|g| some(&g.description)),
            name: group.to_string(),
            title: info.and_then(|g| some(&g.title)),
            ty: info.map(|g| g.group_type.clone()).unwrap_or_default(),
            unknown: Default::default(),
        },
        results: results
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    CsgResult {
                        metafile: format!(">{cs_name}"),
                        num_items: rows,
                        ty: r.result_type.clone(),
                        unknown: Default::default(),
                    },
                )
            })
            .collect(),
        version: some(&job.version),
        unknown: Default::default(),
    }
}

/// A relative link at `dest/<path>` to each data file (`linked`: project-relative paths),
/// recorded.
fn link_data_files(
    linked: &BTreeSet<String>,
    dest: &Path,
    dest_rel: &str,
    records: &mut Records,
) -> Result<(), Failure> {
    for rel in linked {
        let link_rel = format!("{dest_rel}/{rel}");
        let depth = link_rel.matches('/').count();
        let target = format!("{}{rel}", "../".repeat(depth));
        let link = dest.join(rel);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).map_err(|e| cs_cli::io_failure(&e, parent))?;
        }
        std::os::unix::fs::symlink(&target, &link).map_err(|e| cs_cli::io_failure(&e, &link))?;
        records.push(json!({"kind": "link", "path": link_rel, "target": target}));
    }
    Ok(())
}

/// Warn that the data file at `path` (missing, a link whose target is missing, or not a
/// regular file) is left out of the export.
pub(crate) fn warn_not_exported(path: &Path) {
    let what = match std::fs::read_link(path) {
        Ok(target) => format!(
            "{} -> {}: the link's target is missing; not exported",
            shown(path),
            target.display()
        ),
        Err(_) if std::fs::symlink_metadata(path).is_ok() => {
            format!("{}: not a regular file; not exported", shown(path))
        }
        Err(_) => match path
            .ancestors()
            .skip(1)
            .find(|a| crate::archive::dangling(a))
        {
            Some(link) => format!(
                "{}: missing: {} -> {}: the link's target is missing; not exported",
                shown(path),
                shown(link),
                std::fs::read_link(link).unwrap_or_default().display()
            ),
            None => format!("{}: missing; not exported", shown(path)),
        },
    };
    cs_cli::report("job-pack", &format!("warning: {what}"));
}

fn file_record(path: &Path, rel: &str) -> Value {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    json!({"kind": "file", "path": rel, "bytes": bytes})
}

/// Copy a file, recording it.
fn copy_file(from: &Path, to: &Path, rel: &str, records: &mut Records) -> Result<(), Failure> {
    std::fs::copy(from, to).map_err(|e| cs_cli::io_failure(&e, from))?;
    records.push(file_record(to, rel));
    Ok(())
}

/// Refuse an export folder (`dest_rel` in the project) that is, or lies behind, a link out of
/// the project: `exports/` linked elsewhere would have the export written in another tree.
fn refuse_link_out(place: &JobPlace, dest_rel: &str) -> Result<(), Failure> {
    match link_out(&place.project_dir, dest_rel)? {
        None => Ok(()),
        Some(l) => Err(
            Error::in_whole_file(format!("{l}: the export is not written through it"))
                .in_file(&shown(&place.project_dir))
                .into(),
        ),
    }
}

/// Refuse to replace an earlier export at `final_dir` without `force`.
fn refuse_earlier_export(final_dir: &Path, force: bool) -> Result<(), Failure> {
    if force || std::fs::symlink_metadata(final_dir).is_err() {
        return Ok(());
    }
    Err(Error::in_whole_file(
        "an earlier export is there; give --force to replace it (nothing written)",
    )
    .in_file(&shown(final_dir))
    .into())
}

/// Warn that an active job (launched, started, running, waiting, queued) is exported as it is
/// on disk: cryoSPARC writes a job's folder up to date only once it completes.
fn warn_if_active(place: &JobPlace) {
    let job = &place.job;
    if job.is_active() {
        cs_cli::report(
            "job-pack",
            &format!(
                "warning: {}: {} is {}; cryoSPARC updates a job on disk only when it completes, so this export may not be up to date",
                shown(&place.project_dir.join(&place.folder)),
                job.uid,
                job.status
            ),
        );
    }
}

/// Build an export in a temporary folder beside `final_dir`, then put it in place of any
/// earlier export (the old one is removed only after the new one is there).
fn build_then_swap(
    final_dir: &Path,
    build: impl FnOnce(&Path) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let parent = cs_cli::folder_of(final_dir);
    std::fs::create_dir_all(&parent).map_err(|e| cs_cli::io_failure(&e, &parent))?;
    let name = final_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = cs_format::temp::dir_in(&parent).map_err(|e| cs_cli::io_failure(&e, &parent))?;
    build(tmp.path())?;
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| cs_cli::io_failure(&e, tmp.path()))?;
    let old = if std::fs::symlink_metadata(final_dir).is_ok() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(final_dir, &old).map_err(|e| cs_cli::io_failure(&e, final_dir))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = tmp.rename_to(final_dir) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, final_dir);
        }
        return Err(cs_cli::io_failure(&e, final_dir));
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(&old).map_err(|e| cs_cli::io_failure(&e, &old))?;
    }
    Ok(())
}

/// The output groups of a job that have results, in order.
fn groups_with_results(job: &Job) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &job.outputs {
        if !r.metafiles.is_empty() && !out.contains(&r.group) {
            out.push(r.group.clone());
        }
    }
    out
}

/// Export a whole job into `exports/jobs/<P>_<J>_<type>/` (replacing an earlier export only
/// with `force`).
pub fn export_job(
    place: &JobPlace,
    force: bool,
    records: &mut Records,
) -> Result<PathBuf, Failure> {
    let job = &place.job;
    let name = export_name(&place.project_uid, job);
    let dest_rel = format!("exports/jobs/{name}");
    refuse_link_out(place, &dest_rel)?;
    let final_dir = place.project_dir.join(&dest_rel);
    refuse_earlier_export(&final_dir, force)?;
    warn_if_active(place);
    let job_dir = place.project_dir.join(&place.folder);
    let mut groups = Vec::new();
    build_then_swap(&final_dir, |tmp| {
        let mut doc = read_json(&job_dir.join("job.json"))?;
        exported_job_document(&mut doc);
        let text = to_json_text(&doc);
        let jj = tmp.join("job.json");
        std::fs::write(&jj, text).map_err(|e| cs_cli::io_failure(&e, &jj))?;
        records.push(file_record(&jj, &format!("{dest_rel}/job.json")));
        let events = job_dir.join("events.bson");
        if events.is_file() {
            copy_file(
                &events,
                &tmp.join("events.bson"),
                &format!("{dest_rel}/events.bson"),
                records,
            )?;
        }
        let gridfs = job_dir.join("gridfs_data");
        if gridfs.is_dir() {
            crate::copy_tree(
                &gridfs,
                &tmp.join("gridfs_data"),
                &format!("{dest_rel}/gridfs_data"),
                &mut |to, rel| records.push(file_record(to, rel)),
            )?;
        }
        for g in groups_with_results(job) {
            let prefix = format!("{}_{}_{g}", place.project_uid, job.uid);
            let sub = tmp.join(&prefix);
            std::fs::create_dir(&sub).map_err(|e| cs_cli::io_failure(&e, &sub))?;
            let rows = export_group(
                place,
                &g,
                &sub,
                &format!("{dest_rel}/{prefix}"),
                &prefix,
                records,
            )?;
            groups.push(json!({"group": g, "rows": rows}));
        }
        Ok(())
    })?;
    records.push(json!({"kind": "export", "job": job.uid, "path": dest_rel, "groups": groups}));
    Ok(final_dir)
}

/// Export one output group into `exports/groups/<P>_<J>_<group>/` (replacing an earlier export
/// only with `force`).
pub fn export_one_group(
    place: &JobPlace,
    group: &str,
    force: bool,
    records: &mut Records,
) -> Result<PathBuf, Failure> {
    let prefix = format!("{}_{}_{group}", place.project_uid, place.job.uid);
    let dest_rel = format!("exports/groups/{prefix}");
    refuse_link_out(place, &dest_rel)?;
    let final_dir = place.project_dir.join(&dest_rel);
    refuse_earlier_export(&final_dir, force)?;
    warn_if_active(place);
    let mut rows = 0;
    build_then_swap(&final_dir, |tmp| {
        rows = export_group(place, group, tmp, &dest_rel, &prefix, records)?;
        Ok(())
    })?;
    records.push(
        json!({"kind": "export", "job": place.job.uid, "path": dest_rel,
        "groups": [{"group": group, "rows": rows}]}),
    );
    Ok(final_dir)
}
