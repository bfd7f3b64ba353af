//! `proj-du`: storage statistics of cryoSPARC jobs and projects, by cryoSPARC's rule.

use clap::Parser;
use cs_cli::{Failure, Outcome, Progress};
use cs_format::project::clear;
use cs_format::project::job::to_json_text;
use cs_format::project::walk::{entry_names, union, walk_each, Walk};
use cs_format::project::{
    folder_order, has_job_json, is_project_dir, read_job_in, read_project_doc, shown, Project,
    ProjectJob, UnusableJob,
};
use cs_format::{Error, Place};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Storage statistics of cryoSPARC jobs and projects.
#[derive(Debug, Parser)]
#[command(
    name = "proj-du",
    version,
    about = "Storage statistics of cryoSPARC jobs and projects, by cryoSPARC's rule",
    long_about = "Print how much disk cryoSPARC jobs and projects use, as JSON-lines (one record per \
job, then one per project), a table (--table) or CSV (--csv).\n\n\
PATH is a project folder (it holds project.json), a job folder (job.json) or a folder of projects.\n\n\
A job's bytes follow cryoSPARC's rule: walk the job folder following symlinks to files and folders, \
count each (device, inode) once, sum the sizes of regular files; folders and dangling links count 0, \
a folder already visited (a symlink loop) is walked once. A project's bytes are the sum of its jobs' \
(cryoSPARC's figure, which counts a file shared by two jobs twice); bytes_unique walks the whole \
project folder following links, each inode once; bytes_inside counts only what is inside without \
following links (what tar without -h stores); bytes_outside is what links outside the project reach. \
intermediate_bytes is what proj-clean would free.\n\n\
A link to / or to a folder that holds the project is not followed (it would walk the whole machine): \
it is named on stderr and listed in links_not_followed. Links to anything else, such as raw data \
under another folder, are followed.\n\n\
A project.json that is not a project document (a JSON object with a uid) is refused before anything \
is walked or written. A job whose job.json cannot be used (missing, not JSON, a key with the wrong \
kind of value) is still measured, and its record says why under \"unusable\" (type and status are \
null); the other jobs are measured as usual, stderr counts such jobs, and the exit status is 1. A \
job.json may name its type \"type\" or \"job_type\"; keys the figures do not need may be missing. \
Entries that cannot be read are reported on stderr and the walk goes on; the exit status is then 1.",
    after_help = "Examples:\n  proj-du /data/cryosparc_projects/CS-t20s-demo\n  proj-du --table /data/cryosparc_projects\n  \
proj-du /data/cryosparc_projects | jq -c 'select(.kind == \"job\" and .intermediate_bytes > 1e9)'\n  \
proj-du --update CS-t20s-demo     # write the size into project.json, as cryoSPARC does\n\n\
Exit status: 0 on success, 1 when an entry or a job.json could not be read or a document is bad, 2 on \
bad usage."
)]
pub struct Args {
    /// Project folders, job folders or folders of projects.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,

    /// Print a table for people (largest first, sizes in K/M/G).
    #[arg(long, conflicts_with = "csv")]
    pub table: bool,

    /// Print CSV with a header row.
    #[arg(long)]
    pub csv: bool,

    /// Write each project's size (cryoSPARC's rule) into its project.json, atomically.
    #[arg(long)]
    pub update: bool,
}

/// Figures of one job.
#[derive(Debug, Clone)]
struct JobStats {
    project: String,
    job: String,
    folder: String,
    /// Why its `job.json` cannot be used (its folder is still measured).
    unusable: Option<String>,
    job_type: String,
    status: String,
    bytes: u64,
    files: u64,
    dangling: Vec<String>,
    not_followed: Vec<String>,
    intermediate_bytes: u64,
    unreadable: u64,
}

/// Figures of one project.
#[derive(Debug, Clone)]
struct ProjectStats {
    project: String,
    title: String,
    path: String,
    jobs: u64,
    bytes: u64,
    bytes_unique: u64,
    files_unique: u64,
    bytes_inside: u64,
    bytes_outside: u64,
    intermediate_bytes: u64,
    active_jobs: Vec<String>,
    unusable_jobs: Vec<String>,
    dangling: Vec<String>,
    not_followed: Vec<String>,
    unreadable: u64,
}

/// What was measured under one PATH.
enum Measured {
    Project(Vec<JobStats>, ProjectStats),
    Job(JobStats),
}

/// Run `proj-du` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    // Every document is read and checked before anything is walked or written.
    let mut opened = Vec::new();
    for path in &args.paths {
        for target in targets(path)? {
            opened.push(open_target(target, args.update)?);
        }
    }
    let progress = Progress::start("proj-du", "entries");
    let mut measured = Vec::new();
    let mut unreadable = false;
    for target in opened {
        let m = match target {
            Opened::Project(project) => {
                let (jobs, stats, bad) = measure_project(&project, progress.counter());
                unreadable |= bad;
                if args.update {
                    update_size(&project.dir, stats.bytes)?;
                }
                Measured::Project(jobs, stats)
            }
            Opened::Job(job) => {
                let (stats, bad) = measure_job_folder(&job, progress.counter());
                unreadable |= bad;
                Measured::Job(stats)
            }
        };
        measured.push(m);
    }
    drop(progress);
    let unusable = measured.iter().map(Measured::unusable_jobs).sum::<usize>();
    let mut out = cs_cli::stdout();
    if args.table {
        print_table(&measured, &mut out)?;
    } else if args.csv {
        print_csv(&measured, &mut out)?;
    } else {
        for m in &measured {
            match m {
                Measured::Project(jobs, p) => {
                    for j in jobs {
                        writeln!(out, "{}", job_json(j))?;
                    }
                    writeln!(out, "{}", project_json(p))?;
                }
                Measured::Job(j) => writeln!(out, "{}", job_json(j))?,
            }
        }
    }
    out.flush()?;
    if unusable > 0 {
        cs_cli::report("proj-du", &unusable_count(unusable));
    }
    if unreadable || unusable > 0 {
        return Err(Failure::Quiet);
    }
    Ok(())
}

/// The stderr line that counts the jobs whose `job.json` could not be used.
fn unusable_count(n: usize) -> String {
    let jobs = if n == 1 { "job" } else { "jobs" };
    format!("{n} {jobs} could not be read (see the records with \"unusable\")")
}

impl Measured {
    /// How many jobs measured here have a `job.json` that cannot be used.
    fn unusable_jobs(&self) -> usize {
        match self {
            Measured::Project(jobs, _) => jobs.iter().filter(|j| j.unusable.is_some()).count(),
            Measured::Job(j) => usize::from(j.unusable.is_some()),
        }
    }
}

enum Target {
    Project(PathBuf),
    Job(PathBuf),
}

/// A target with its documents read.
enum Opened {
    Project(Project),
    Job(Box<JobFolder>),
}

/// A job folder given on its own, and the project around it.
struct JobFolder {
    /// The folder holding the job folder.
    parent: PathBuf,
    /// The job, under its folder name, or why its `job.json` cannot be used.
    job: Result<ProjectJob, UnusableJob>,
    /// The parent project (or a stand-in holding only this job).
    project: Project,
}

/// Read a target's documents (a bad `project.json` stops the run here; a `job.json` that
/// cannot be used is reported for its job). With `update`, a `project.json` that is a link out
/// of the project is refused.
fn open_target(target: Target, update: bool) -> Result<Opened, Failure> {
    match target {
        Target::Project(dir) => {
            let project = Project::open(&dir)?;
            if update {
                refuse_link_out(&dir)?;
                cs_format::project::refuse_unfinished_import(&dir)?;
            } else if let Err(e) = cs_format::project::refuse_unfinished_import(&dir) {
                cs_cli::report("proj-du", &format!("warning: {e}; measured as it is now"));
            }
            Ok(Opened::Project(project))
        }
        Target::Job(dir) => Ok(Opened::Job(Box::new(open_job_folder(&dir)?))),
    }
}

/// Refuse to rewrite a `project.json` that is (or lies behind) a link out of the project.
fn refuse_link_out(dir: &Path) -> Outcome {
    match cs_format::project::link_out(dir, "project.json")? {
        None => Ok(()),
        Some(l) => Err(
            Error::in_whole_file(format!("{l}: --update does not write through it"))
                .in_file(&shown(dir))
                .into(),
        ),
    }
}

/// What a PATH names: a project, a job, or a folder of projects.
fn targets(path: &Path) -> Result<Vec<Target>, Failure> {
    if !path.is_dir() {
        let what = if path.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        return Err(Error::in_whole_file(what).in_file(&shown(path)).into());
    }
    if is_project_dir(path) {
        return Ok(vec![Target::Project(path.to_path_buf())]);
    }
    if has_job_json(path) {
        return Ok(vec![Target::Job(path.to_path_buf())]);
    }
    let names = entry_names(path).map_err(|e| Error::io(&e, Place::File).in_file(&shown(path)))?;
    let projects: Vec<Target> = names
        .iter()
        .map(|n| path.join(n))
        .filter(|p| p.is_dir() && is_project_dir(p))
        .map(Target::Project)
        .collect();
    if projects.is_empty() {
        return Err(Error::in_whole_file(
            "is not a project folder (project.json), a job folder (job.json) or a folder of projects",
        )
        .in_file(&shown(path))
        .into());
    }
    Ok(projects)
}

/// Warn about entries a walk could not read (true when there were any) and about links it did
/// not follow.
fn warn_unreadable(base: &Path, walk: &Walk) -> bool {
    for (rel, why) in &walk.unreadable {
        cs_cli::report("proj-du", &format!("{}: {why}", shown(&base.join(rel))));
    }
    for (rel, target) in &walk.not_followed {
        cs_cli::report(
            "proj-du",
            &format!(
                "warning: {} -> {target}: a link to / or to a folder that holds the project; not followed",
                shown(&base.join(rel))
            ),
        );
    }
    !walk.unreadable.is_empty()
}

/// The paths of the links a walk did not follow.
fn not_followed(walk: &Walk) -> Vec<String> {
    walk.not_followed.iter().map(|(p, _)| p.clone()).collect()
}

fn job_stats(project: &str, pj: &ProjectJob, walk: &Walk, intermediate: u64) -> JobStats {
    JobStats {
        project: if pj.job.project_uid.is_empty() {
            project.to_string()
        } else {
            pj.job.project_uid.clone()
        },
        job: pj.job.uid.clone(),
        folder: pj.folder.clone(),
        unusable: None,
        job_type: pj.job.job_type.clone(),
        status: pj.job.status.clone(),
        bytes: walk.bytes(),
        files: walk.files.len() as u64,
        dangling: walk.dangling.clone(),
        not_followed: not_followed(walk),
        intermediate_bytes: intermediate,
        unreadable: walk.unreadable.len() as u64,
    }
}

/// Figures of a job folder whose `job.json` cannot be used: its folder is measured all the
/// same; it has no type or status, and nothing a clear would free.
fn unusable_stats(project: &str, u: &UnusableJob, walk: &Walk) -> JobStats {
    JobStats {
        project: project.to_string(),
        job: u.folder.clone(),
        folder: u.folder.clone(),
        unusable: Some(u.error.to_string()),
        job_type: String::new(),
        status: String::new(),
        bytes: walk.bytes(),
        files: walk.files.len() as u64,
        dangling: walk.dangling.clone(),
        not_followed: not_followed(walk),
        intermediate_bytes: 0,
        unreadable: walk.unreadable.len() as u64,
    }
}

/// Walk a project: every top-level entry on its own, in parallel (jobs give their figures; the
/// union of all gives the project's), while the clear plan is worked out.
fn measure_project(
    project: &Project,
    entries: &std::sync::atomic::AtomicU64,
) -> (Vec<JobStats>, ProjectStats, bool) {
    let names = entry_names(&project.dir).unwrap_or_default();
    let (walks, plan) = rayon::join(
        || walk_each(&project.dir, &names, entries),
        || clear::plan(project, &[]),
    );
    let by_name: HashMap<&str, &Walk> = names.iter().map(String::as_str).zip(&walks).collect();
    let intermediate: HashMap<&str, u64> = plan
        .jobs
        .iter()
        .map(|c| (c.job.as_str(), c.bytes()))
        .collect();
    let empty = Walk::default();
    let walk_of = |folder: &str| by_name.get(folder).copied().unwrap_or(&empty);
    let mut jobs: Vec<JobStats> = project
        .jobs
        .iter()
        .map(|pj| {
            let bytes = intermediate.get(pj.job.uid.as_str()).copied().unwrap_or(0);
            job_stats(&project.uid, pj, walk_of(&pj.folder), bytes)
        })
        .collect();
    for u in &project.unusable {
        jobs.push(unusable_stats(&project.uid, u, walk_of(&u.folder)));
    }
    jobs.sort_by(|a, b| folder_order(&a.folder, &b.folder));
    let all = union(&walks.iter().collect::<Vec<_>>());
    let bad = warn_unreadable(&project.dir, &all);
    let unique = all.bytes();
    let inside = all.bytes_direct();
    let stats = ProjectStats {
        project: project.uid.clone(),
        title: project.title.clone(),
        path: shown(&project.dir),
        jobs: jobs.len() as u64,
        bytes: jobs.iter().map(|j| j.bytes).sum(),
        bytes_unique: unique,
        files_unique: all.files.len() as u64,
        bytes_inside: inside,
        bytes_outside: unique - inside,
        intermediate_bytes: jobs.iter().map(|j| j.intermediate_bytes).sum(),
        active_jobs: project
            .jobs
            .iter()
            .filter(|pj| pj.job.is_active())
            .map(|pj| pj.job.uid.clone())
            .collect(),
        unusable_jobs: project.unusable.iter().map(|u| u.folder.clone()).collect(),
        dangling: all.dangling.clone(),
        not_followed: not_followed(&all),
        unreadable: all.unreadable.len() as u64,
    };
    (jobs, stats, bad)
}

/// Open a job folder given on its own, and its project when the parent folder is one.
fn open_job_folder(dir: &Path) -> Result<JobFolder, Failure> {
    let dir = if dir.file_name().is_none() {
        std::fs::canonicalize(dir).map_err(|e| Error::io(&e, Place::File).in_file(&shown(dir)))?
    } else {
        dir.to_path_buf()
    };
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = cs_cli::folder_of(&dir);
    let job = match read_job_in(&parent, &folder) {
        Ok(job) => Ok(ProjectJob { folder, job }),
        Err(error) => Err(UnusableJob { folder, error }),
    };
    let project = if is_project_dir(&parent) {
        Project::open(&parent)?
    } else {
        Project {
            dir: parent.clone(),
            uid: job
                .as_ref()
                .map(|pj| pj.job.project_uid.clone())
                .unwrap_or_default(),
            title: String::new(),
            jobs: job.iter().cloned().collect(),
            unusable: Vec::new(),
        }
    };
    Ok(JobFolder {
        parent,
        job,
        project,
    })
}

/// Walk one job folder (its project, when the parent folder is one, decides what a clear frees).
fn measure_job_folder(jf: &JobFolder, entries: &std::sync::atomic::AtomicU64) -> (JobStats, bool) {
    let pj = match &jf.job {
        Ok(pj) => pj,
        Err(u) => {
            let walk = walk_each(&jf.parent, std::slice::from_ref(&u.folder), entries);
            let walk = walk.into_iter().next().unwrap_or_default();
            let bad = warn_unreadable(&jf.parent, &walk);
            return (unusable_stats(&jf.project.uid, u, &walk), bad);
        }
    };
    let (walks, plan) = rayon::join(
        || walk_each(&jf.parent, std::slice::from_ref(&pj.folder), entries),
        || clear::plan(&jf.project, std::slice::from_ref(&pj.job.uid)),
    );
    let walk = walks.into_iter().next().unwrap_or_default();
    let bad = warn_unreadable(&jf.parent, &walk);
    let bytes = plan.jobs.first().map_or(0, |c| c.bytes());
    (job_stats(&jf.project.uid, pj, &walk, bytes), bad)
}

/// Write the project's size into `project.json` (and `size_last_updated` when the file has
/// that v5 key), keeping every other key and its order.
fn update_size(dir: &Path, bytes: u64) -> Outcome {
    let path = dir.join("project.json");
    let mut doc = read_project_doc(dir)?;
    let Some(obj) = doc.as_object_mut() else {
        return Err(Error::in_whole_file("is not a JSON object")
            .in_file(&shown(&path))
            .into());
    };
    obj.insert("size".into(), json!(bytes));
    if obj.contains_key("size_last_updated") {
        obj.insert(
            "size_last_updated".into(),
            json!(cs_format::project::timestamp::now_iso()),
        );
    }
    let text = to_json_text(&doc);
    cs_cli::write_atomically(&path, true, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| Error::io(&e, Place::File))
    })
}

fn job_json(j: &JobStats) -> Value {
    // Unknown (an unusable job.json, or a key the document lacks) is null.
    let known = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let mut record = json!({
        "kind": "job",
        "project": j.project,
        "job": j.job,
        "folder": j.folder,
        "type": known(&j.job_type),
        "status": known(&j.status),
        "bytes": j.bytes,
        "files": j.files,
        "dangling_links": j.dangling,
        "links_not_followed": j.not_followed,
        "intermediate_bytes": j.intermediate_bytes,
        "unreadable": j.unreadable,
    });
    if let (Some(why), Some(obj)) = (&j.unusable, record.as_object_mut()) {
        obj.insert("unusable".into(), json!(why));
    }
    record
}

fn project_json(p: &ProjectStats) -> Value {
    json!({
        "kind": "project",
        "project": p.project,
        "title": p.title,
        "path": p.path,
        "jobs": p.jobs,
        "bytes": p.bytes,
        "bytes_unique": p.bytes_unique,
        "files_unique": p.files_unique,
        "bytes_inside": p.bytes_inside,
        "bytes_outside": p.bytes_outside,
        "intermediate_bytes": p.intermediate_bytes,
        "active_jobs": p.active_jobs,
        "unusable_jobs": p.unusable_jobs,
        "dangling_links": p.dangling,
        "links_not_followed": p.not_followed,
        "unreadable": p.unreadable,
    })
}

const CSV_HEADER: [&str; 16] = [
    "kind",
    "project",
    "job",
    "type",
    "status",
    "title",
    "bytes",
    "files",
    "intermediate_bytes",
    "dangling_links",
    "bytes_unique",
    "bytes_inside",
    "bytes_outside",
    "active_jobs",
    "unreadable",
    "unusable",
];

fn print_csv(measured: &[Measured], out: &mut impl Write) -> Outcome {
    let mut w = csv::Writer::from_writer(out);
    let csv_err = |e: csv::Error| -> Failure {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Failure::from(io),
            other => Failure::Usage(format!("{other:?}")),
        }
    };
    w.write_record(CSV_HEADER).map_err(csv_err)?;
    let job_row = |j: &JobStats| -> Vec<String> {
        vec![
            "job".into(),
            j.project.clone(),
            j.job.clone(),
            j.job_type.clone(),
            j.status.clone(),
            String::new(),
            j.bytes.to_string(),
            j.files.to_string(),
            j.intermediate_bytes.to_string(),
            j.dangling.len().to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            j.unreadable.to_string(),
            j.unusable.clone().unwrap_or_default(),
        ]
    };
    for m in measured {
        match m {
            Measured::Project(jobs, p) => {
                for j in jobs {
                    w.write_record(job_row(j)).map_err(csv_err)?;
                }
                w.write_record([
                    "project".to_string(),
                    p.project.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    p.title.clone(),
                    p.bytes.to_string(),
                    p.files_unique.to_string(),
                    p.intermediate_bytes.to_string(),
                    p.dangling.len().to_string(),
                    p.bytes_unique.to_string(),
                    p.bytes_inside.to_string(),
                    p.bytes_outside.to_string(),
                    p.active_jobs.join(" "),
                    p.unreadable.to_string(),
                    p.unusable_jobs.join(" "),
                ])
                .map_err(csv_err)?;
            }
            Measured::Job(j) => w.write_record(job_row(j)).map_err(csv_err)?,
        }
    }
    w.flush()?;
    Ok(())
}

fn print_table(measured: &[Measured], out: &mut impl Write) -> Outcome {
    writeln!(
        out,
        "{:>8} {:>8} {:>9}  {:<8} {:<6} {:<32} STATUS",
        "SIZE", "FILES", "CLEARABLE", "PROJECT", "JOB", "TYPE"
    )?;
    let job_line = |out: &mut dyn Write, j: &JobStats| -> std::io::Result<()> {
        let status = match &j.unusable {
            Some(why) => format!("unusable: {why}"),
            None => j.status.clone(),
        };
        writeln!(
            out,
            "{:>8} {:>8} {:>9}  {:<8} {:<6} {:<32} {}",
            cs_cli::human_bytes(j.bytes),
            j.files,
            cs_cli::human_bytes(j.intermediate_bytes),
            j.project,
            j.job,
            if j.job_type.is_empty() {
                "?"
            } else {
                &j.job_type
            },
            status
        )
    };
    for m in measured {
        match m {
            Measured::Project(jobs, p) => {
                let mut sorted: Vec<&JobStats> = jobs.iter().collect();
                sorted.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.job.cmp(&b.job)));
                for j in sorted {
                    job_line(out, j)?;
                }
                writeln!(
                    out,
                    "{:>8} {:>8} {:>9}  {:<8} {:<6} {} — {} unique on disk, {} inside, {} through links out{}",
                    cs_cli::human_bytes(p.bytes),
                    p.files_unique,
                    cs_cli::human_bytes(p.intermediate_bytes),
                    p.project,
                    "total",
                    p.title,
                    cs_cli::human_bytes(p.bytes_unique),
                    cs_cli::human_bytes(p.bytes_inside),
                    cs_cli::human_bytes(p.bytes_outside),
                    if p.active_jobs.is_empty() {
                        String::new()
                    } else {
                        format!("; active: {}", p.active_jobs.join(" "))
                    }
                )?;
            }
            Measured::Job(j) => job_line(out, j)?,
        }
    }
    Ok(())
}
