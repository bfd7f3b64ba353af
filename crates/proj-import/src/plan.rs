//! What an import changes, decided before anything is changed ([`Plan`]): the project
//! checked, its new uid, title and time, each file's text now and its new text (project.json,
//! every job.json, workspaces.json, cs.lock), the registry entry and the record to print. The
//! edits themselves are cs-format's ([`cs_format::project::documents`], [`move_workspaces`]).

use crate::check::{self, Checked};
use crate::import::already_imported;
use crate::instance::{self, Instance, Registered};
use crate::journal::{FileChange, Plan};
use crate::Choices;
use cs_cli::Failure;
use cs_format::project::documents::{move_job, move_project, CountedJob, ProjectMove};
use cs_format::project::job::to_json_text;
use cs_format::project::workspaces::move_workspaces;
use cs_format::project::{read_json, shown};
use cs_format::Error;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;

/// How an import names its source: in its journal (`key`), in messages (`named`), and the
/// project's files in messages (`files`, for an unpacked archive).
pub(crate) struct Names<'a> {
    pub key: &'a str,
    pub named: &'a str,
    pub files: Option<&'a str>,
}

/// Check the project at `now` and decide every change an import into `project` makes (the
/// same folder, or where an unpacked archive will be); refusals name `names.named` (the folder,
/// or the archive).
pub(crate) fn plan_import(
    inst: &Instance,
    now: &Path,
    project: &Path,
    choices: &Choices,
    names: &Names,
) -> Result<Plan, Failure> {
    let dir = project.display().to_string();
    let held = inst.registered_at(&dir).or_else(|| inst.original_of(now));
    if let Some(p) = held.filter(|_| !choices.again) {
        return Err(already_imported(names.named, p));
    }
    // The files an import rewrites, as they are before the check reads them: a change between
    // the two (another import finishing) is seen below, so what was checked is what is changed.
    let before = texts_before(now);
    let checked = check_for_import(inst, now, choices, names.files, names.named)?;
    if let Some(p) = held {
        let again = format!(
            "warning: {}: already imported as {} at {}; imported again as a new project \
             (--force)",
            names.named, p.uid, p.dir
        );
        cs_cli::report("proj-import", &again);
    }
    let Some(project_doc) = checked.project.clone() else {
        return Err(Error::in_whole_file("has no readable project.json")
            .in_file(names.named)
            .into());
    };
    let number = inst.next_number();
    let uid = format!("P{number}");
    let old_uid = text_of(&project_doc, "uid");
    let title = title_of(choices, &text_of(&project_doc, "title"));
    let time = cs_format::project::timestamp::now_iso();
    let to = ProjectMove {
        uid: &uid,
        number,
        title: &title,
        now: &time,
        dir: &dir,
    };
    let (files, killed) = rewritten_files(inst, now, &checked, project_doc, &to)?;
    refuse_if_changed(&files, &before, names.named)?;
    // The same folder again: its new entry replaces the old one.
    let replaces = held.filter(|p| p.dir == dir).cloned();
    let record = import_record(&to, &old_uid, &checked, killed, replaces.as_ref());
    let entry = Registered {
        uid: uid.clone(),
        dir: dir.clone(),
        title: title.clone(),
        imported_at: time.clone(),
        source_uid: old_uid,
        source_instance: instance::lock_holder(now).unwrap_or_default(),
        source: names.key.to_string(),
    };
    Ok(Plan {
        instance_dir: inst.canonical_dir()?,
        source: names.key.to_string(),
        entry,
        replaces,
        number,
        files,
        record,
    })
}

/// Refuse an import whose files changed between `before` and the plan (another import
/// finishing, say): what was checked must be what is changed.
fn refuse_if_changed(
    files: &[FileChange],
    before: &HashMap<String, Option<String>>,
    named: &str,
) -> Result<(), Failure> {
    if files
        .iter()
        .all(|f| before.get(&f.rel) == Some(&f.original))
    {
        return Ok(());
    }
    Err(Error::in_whole_file(
        "changed while it was being checked (nothing was changed): run proj-import again",
    )
    .in_file(named)
    .into())
}

/// Check the project at `now` (its files named as `files` says) for an import: the first
/// blocking problem refuses it, naming `named` and how many more there are.
fn check_for_import(
    inst: &Instance,
    now: &Path,
    choices: &Choices,
    files: Option<&str>,
    named: &str,
) -> Result<Checked, Failure> {
    let folder = check::Folder::new(now, files);
    let checked = check::check_files(&folder, Some(&inst.id), choices.allow);
    let blocking: Vec<_> = checked.problems.iter().filter(|p| p.blocking).collect();
    if let Some(first) = blocking.first() {
        let more = match blocking.len() - 1 {
            0 => String::new(),
            1 => " (and 1 more problem: see proj-import check)".to_string(),
            k => format!(" (and {k} more problems: see proj-import check)"),
        };
        return Err(Error::in_whole_file(format!(
            "cannot be imported: {}{more}",
            first.one_line()
        ))
        .in_file(named)
        .into());
    }
    Ok(checked)
}

/// A string of a document, or empty.
fn text_of(doc: &Value, key: &str) -> String {
    doc.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The new title: `--title`, else `Imported: <old title>` — once: a project imported before
/// (then copied, archived or imported again with --force) keeps one prefix.
fn title_of(choices: &Choices, old: &str) -> String {
    match &choices.title {
        Some(t) => t.clone(),
        None if old.starts_with("Imported: ") => old.to_string(),
        None => format!("Imported: {old}"),
    }
}

/// Every file the import rewrites, in the order they are written — project.json, each
/// job.json (as the check read it), workspaces.json, cs.lock — with its text now and its new
/// text; and the active jobs, imported as killed.
fn rewritten_files(
    inst: &Instance,
    now: &Path,
    checked: &Checked,
    mut project_doc: Value,
    to: &ProjectMove,
) -> Result<(Vec<FileChange>, Vec<String>), Failure> {
    let mut job_files = Vec::new();
    let mut killed = Vec::new();
    let mut counted = Vec::new();
    for c in &checked.jobs {
        let mut doc = c.doc.clone();
        let active = c.job.is_active();
        let status = if active { "killed" } else { &c.job.status };
        if active {
            killed.push(c.job.uid.clone());
        }
        move_job(&mut doc, to.uid, to.number, active.then_some(status));
        counted.push(CountedJob::new(&c.job, status, &doc));
        let rel = format!("{}/job.json", c.folder);
        job_files.push(change(now, &rel, to_json_text(&doc))?);
    }
    move_project(&mut project_doc, to, &counted);
    let mut files = vec![change(now, "project.json", to_json_text(&project_doc))?];
    files.extend(job_files);
    let mut ws = read_json(&now.join("workspaces.json"))?;
    move_workspaces(&mut ws, to.uid, to.number, &counted, to.now);
    files.push(change(now, "workspaces.json", to_json_text(&ws))?);
    files.push(change(now, "cs.lock", to_json_text(&lock_json(&inst.id)))?);
    Ok((files, killed))
}

/// The record an import prints: the new project, the jobs (and those killed), the warnings
/// the check found, and the registry entry it replaces.
fn import_record(
    to: &ProjectMove,
    old_uid: &str,
    checked: &Checked,
    killed: Vec<String>,
    replaces: Option<&Registered>,
) -> Value {
    let warnings: Vec<Value> = checked
        .problems
        .iter()
        .filter(|p| !p.blocking)
        .map(|p| p.to_json())
        .collect();
    let mut record = json!({
        "project": to.uid,
        "title": to.title,
        "dir": to.dir,
        "source_uid": old_uid,
        "jobs": checked.jobs.len(),
        "killed": killed,
        "warnings": warnings,
    });
    if let Some(old) = replaces {
        record["replaced"] = json!(old.uid);
    }
    record
}

/// The texts of the files an import may rewrite (project.json, workspaces.json, cs.lock, every
/// `J<n>/job.json`; None where there is none), by their names in the project.
fn texts_before(now: &Path) -> HashMap<String, Option<String>> {
    let mut rels: Vec<String> = ["project.json", "workspaces.json", "cs.lock"]
        .iter()
        .map(|r| r.to_string())
        .collect();
    if let Ok(list) = std::fs::read_dir(now) {
        for e in list.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if cs_format::project::job_number(&name).is_some() {
                rels.push(format!("{name}/job.json"));
            }
        }
    }
    rels.into_iter()
        .map(|rel| {
            let text = std::fs::read_to_string(now.join(&rel)).ok();
            (rel, text)
        })
        .collect()
}

/// A file's change: its current text (None when it does not exist) and its new one.
fn change(now: &Path, rel: &str, new: String) -> Result<FileChange, Failure> {
    let path = now.join(rel);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::in_whole_file(
            "is a symlink: an import replaces this file and would replace the link (put a copy \
             of its target in its place first)",
        )
        .in_file(&shown(&path))
        .into());
    }
    let original = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(cs_cli::io_failure(&e, &path)),
    };
    Ok(FileChange {
        rel: rel.to_string(),
        original,
        new,
    })
}

/// Our `cs.lock` content.
fn lock_json(instance_id: &str) -> Value {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    json!({
        "instance_id": instance_id,
        "hostname": host,
        "locked_at": cs_format::project::timestamp::now_iso(),
    })
}
