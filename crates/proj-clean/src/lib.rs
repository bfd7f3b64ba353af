//! `proj-clean`: clear the unused intermediate results of cryoSPARC iterative jobs (a dry run
//! unless `--yes`).

use clap::Parser;
use cs_cli::hints::ProjectWord;
use cs_cli::{Failure, Outcome};
use cs_format::project::clear::{self, ClearPlan, JobClear};
use cs_format::project::job::{remove_versions, to_json_text, PENDING_KEY};
use cs_format::project::{is_project_dir, read_json, shown, Project, UnusableJob};
use cs_format::{Error, Place};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Clear the unused intermediate results of iterative jobs.
#[derive(Debug, Parser)]
#[command(
    name = "proj-clean",
    version,
    about = "Clear the unused intermediate results of cryoSPARC iterative jobs (dry run unless --yes)",
    long_about = "List, and with --yes remove, the files of intermediate result versions that \
nothing uses, for the named jobs or every job of the project.\n\n\
For every non-passthrough result with more than one version, the final version is kept, and so is \
every version another job's input names by number. A metafile goes when no kept version uses it; a \
data file goes when a metafile that goes names it, it lies inside that job's folder, and no surviving \
registered metafile of the project names it. Active jobs (launched, started, running, waiting, \
queued) are skipped, and so are jobs whose job.json has no status, jobs whose folder is a symlink or \
whose job.json leads out of the project, and jobs that a job.json which cannot be used names (it may \
take their versions). A job whose job.json cannot be used (missing, not JSON, a key with the wrong \
kind of value) is left alone and reported in an \"unusable\" record; the others are cleared; stderr \
counts such jobs and the exit status is 1. A job.json may name its type \"type\" or \"job_type\"; \
keys the clear does not need may be missing, and keys csutils does not know are kept. Only regular files inside the job folder are removed: never a symlink, never a file reached \
through one. A project.json that is not a project document is refused.\n\n\
Output, JSON-lines: one \"unusable\" record per job whose job.json cannot be used, one \"keep\" record per intermediate version kept for another job, one \
\"delete\" record per file (\"deleted\" with --yes), then a \"summary\".\n\n\
With --yes, each job.json is first rewritten (atomically) to list only what remains, with the files \
still to remove under \"csutils_clear_pending\"; then the files are removed and that key dropped. A \
run interrupted in between leaves only unregistered files, which the next run removes. Each \
\"deleted\" record is printed (and flushed) as its file goes, so a run killed half-way has said \
what it removed.",
    after_help = "Examples:\n  proj-clean CS-t20s-demo                 # what would go, as JSON-lines\n  \
proj-clean CS-t20s-demo J8 J9 | jq -r 'select(.kind == \"delete\") | .path'\n  \
proj-clean --yes CS-t20s-demo J8\n\n\
Exit status: 0 on success, 1 on a bad document, a job.json that cannot be used or a file that could not \
be removed, 2 on bad usage."
)]
pub struct Args {
    /// The project folder (it holds project.json).
    #[arg(value_name = "PROJECT")]
    pub project: PathBuf,

    /// Jobs to clear (J8 …); none: every job of the project.
    #[arg(value_name = "JOB")]
    pub jobs: Vec<String>,

    /// Remove the files (without it, only list them).
    #[arg(long)]
    pub yes: bool,
}

/// Refuse a folder that is not a project folder; a job folder or a job number gets the command
/// line to try.
fn refuse_non_project(dir: &Path) -> Outcome {
    if is_project_dir(dir) {
        return Ok(());
    }
    let refusal =
        cs_cli::hints::project_input_mixup(dir, ProjectWord::ThenJobs).unwrap_or_else(|| {
            Error::in_whole_file("is not a project folder (it has no project.json)")
                .in_file(&shown(dir))
        });
    Err(refusal.into())
}

/// Run `proj-clean` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let dir = args.project.as_path();
    refuse_non_project(dir)?;
    // Finishing or undoing the import would put back job.json files naming what a clear removes.
    cs_format::project::refuse_unfinished_import(dir)?;
    let project = Project::open(dir)?;
    refuse_unknown_jobs(&project, &args.jobs, dir)?;
    let plan = clear::plan(&project, &args.jobs);
    for (m, why) in &plan.unreadable_metafiles {
        cs_cli::report("proj-clean", &format!("{}: {why}", shown(&dir.join(m))));
    }
    if args.yes && !plan.unreadable_metafiles.is_empty() {
        return Err(Error::in_whole_file(
            "some registered metafiles cannot be read, so the data files they name are unknown: nothing removed",
        )
        .in_file(&shown(dir))
        .into());
    }
    let mut out = cs_cli::stdout();
    for u in &project.unusable {
        writeln!(out, "{}", unusable_record(u))?;
    }
    for job in &plan.jobs {
        for k in &job.kept {
            writeln!(out, "{}", keep_record(job, k))?;
        }
    }
    out.flush()?;
    let mut failed = false;
    for job in &plan.jobs {
        if args.yes {
            failed |= !carry_out(dir, job, &mut out)?;
        } else {
            for d in &job.delete {
                writeln!(out, "{}", delete_record("delete", job, d))?;
            }
        }
    }
    writeln!(out, "{}", summary(&project, &plan, args.yes))?;
    out.flush()?;
    report_unusable(&project);
    if failed || !project.unusable.is_empty() {
        return Err(Failure::Quiet);
    }
    Ok(())
}

/// A named job the project does not have is refused.
fn refuse_unknown_jobs(project: &Project, jobs: &[String], dir: &Path) -> Outcome {
    for uid in jobs {
        if project.job(uid).is_none() && project.unusable_job(uid).is_none() {
            return Err(Error::in_whole_file(format!("has no job {uid}"))
                .in_file(&shown(dir))
                .into());
        }
    }
    Ok(())
}

/// Say on stderr how many jobs were left alone because their `job.json` cannot be used.
fn report_unusable(project: &Project) {
    if project.unusable.is_empty() {
        return;
    }
    let n = project.unusable.len();
    let (jobs, verb) = if n == 1 {
        ("job", "was")
    } else {
        ("jobs", "were")
    };
    cs_cli::report(
        "proj-clean",
        &format!("{n} {jobs} could not be read and {verb} left alone (see the records with \"unusable\")"),
    );
}

/// The record of an intermediate version kept because another job takes it.
fn keep_record(job: &JobClear, k: &clear::KeptVersion) -> Value {
    json!({
        "kind": "keep",
        "job": job.job,
        "path": k.metafile,
        "group": k.group,
        "result": k.result,
        "version": k.version,
        "referenced_by": k.referenced_by,
    })
}

/// The record of a job whose `job.json` cannot be used (nothing of it is touched).
fn unusable_record(u: &UnusableJob) -> Value {
    json!({
        "kind": "unusable",
        "job": u.folder,
        "folder": u.folder,
        "unusable": u.error.to_string(),
    })
}

fn delete_record(kind: &str, job: &JobClear, d: &clear::Deletion) -> Value {
    json!({
        "kind": kind,
        "job": job.job,
        "path": d.path,
        "bytes": d.bytes,
        "reason": d.reason,
    })
}

fn summary(project: &Project, plan: &ClearPlan, removed: bool) -> Value {
    let files: usize = plan.jobs.iter().map(|j| j.delete.len()).sum();
    let bytes: u64 = plan.jobs.iter().map(JobClear::bytes).sum();
    let freed: u64 = plan
        .jobs
        .iter()
        .flat_map(|j| &j.delete)
        .map(|d| d.freed)
        .sum();
    json!({
        "kind": "summary",
        "dry_run": !removed,
        "files": files,
        "bytes": bytes,
        "bytes_freed_on_disk": freed,
        "jobs": plan.jobs.iter().filter(|j| !j.delete.is_empty()).map(|j| j.job.clone()).collect::<Vec<_>>(),
        "skipped": plan.jobs.iter().filter_map(|j| j.skipped.as_ref().map(|why| json!({"job": j.job, "why": why}))).collect::<Vec<_>>(),
        "unreadable_metafiles": plan.unreadable_metafiles.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
        "unusable": project.unusable.iter().map(|u| u.folder.clone()).collect::<Vec<_>>(),
    })
}

/// Rewrite a job's `job.json` atomically with `edit` applied.
fn rewrite_job_json(job_json: &Path, edit: impl FnOnce(&mut Value)) -> Outcome {
    let mut doc = read_json(job_json)?;
    if !doc.is_object() {
        return Err(Error::in_whole_file("is not a JSON object")
            .in_file(&shown(job_json))
            .into());
    }
    edit(&mut doc);
    let text = to_json_text(&doc);
    cs_cli::write_atomically(job_json, true, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| Error::io(&e, Place::File))
    })
}

/// Clear one job: unregister first, then remove, then drop the pending list. Returns false when
/// some file could not be removed (it stays listed as pending).
fn carry_out(dir: &Path, job: &JobClear, out: &mut impl Write) -> Result<bool, Failure> {
    if job.skipped.is_some() || (job.delete.is_empty() && job.removed_versions.is_empty()) {
        return Ok(true);
    }
    let job_json = dir.join(&job.folder).join("job.json");
    let removed = &job.removed_versions;
    let pending: Vec<String> = job.delete.iter().map(|d| d.path.clone()).collect();
    let bytes = job.bytes();
    rewrite_job_json(&job_json, |doc| {
        remove_versions(doc, &|g, r, v| {
            removed
                .iter()
                .any(|(rg, rr, rv)| rg == g && rr == r && *rv == v)
        });
        if let Some(obj) = doc.as_object_mut() {
            obj.insert(PENDING_KEY.into(), json!(pending));
            obj.insert(
                "last_intermediate_data_cleared_at".into(),
                json!(cs_format::project::timestamp::now_iso()),
            );
            obj.insert("last_intermediate_data_cleared_amount".into(), json!(bytes));
        }
    })?;
    let mut left = Vec::new();
    for d in &job.delete {
        let path = dir.join(&d.path);
        // Checked again just before: still a regular file reached without a symlink.
        if clear::plain_file(dir, &d.path).is_none() {
            continue;
        }
        match std::fs::remove_file(&path) {
            // The record leaves as the file goes: a run killed half-way has said what it removed.
            Ok(()) => {
                writeln!(out, "{}", delete_record("deleted", job, d))?;
                out.flush()?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                cs_cli::report(
                    "proj-clean",
                    &format!("{}: {}", shown(&path), cs_format::error::io_message(&e)),
                );
                left.push(d.path.clone());
            }
        }
    }
    rewrite_job_json(&job_json, |doc| {
        if let Some(obj) = doc.as_object_mut() {
            if left.is_empty() {
                obj.shift_remove(PENDING_KEY);
            } else {
                obj.insert(PENDING_KEY.into(), json!(left));
            }
        }
    })?;
    Ok(left.is_empty())
}
