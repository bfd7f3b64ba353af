//! `proj-import`: check a project folder, import it into an instance under a new project uid,
//! list the instance's projects, detach one.

mod archive_files;
mod check;
mod instance;
mod journal;

use check::{check, Allow};
use clap::{CommandFactory, Parser, Subcommand};
use cs_cli::{Failure, Generate, Outcome};
use cs_format::job::to_json_text;
use cs_format::project::{read_json, shown};
use cs_format::Error;
use instance::{instance_dir, peek_id, registered_json, Instance, Registered};
use journal::{FileChange, Found, Journal, Plan};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Check, import, list and detach whole cryoSPARC projects.
#[derive(Debug, Parser)]
#[command(
    name = "proj-import",
    version,
    about = "Check, import, list and detach whole cryoSPARC projects",
    long_about = "Import an intact cryoSPARC project folder (or a tar of one) into an instance: it \
gets the next free project uid, the title 'Imported: <old title>', a new creation time, our \
cs.lock, and an entry in the instance's registry. The whole change is first written to a journal \
in the project folder (.csutils-import-journal.json, which also keeps a second import of the same \
project out); a failure or SIGINT/SIGTERM/SIGHUP on the way puts every file back (exit 1, or \
130/143/129). After a kill -9 or a crash, running the same command again finishes the import; \
proj-import rollback PROJECT undoes it instead.\n\n\
The instance is a folder (--instance DIR, else $CSUTILS_INSTANCE, else \
$XDG_DATA_HOME/csutils/instance) holding instance.json; commands on one instance take turns \
(a file lock).",
    after_help = "Examples:\n  proj-import check /data/old/CS-t20s-demo\n  proj-import check P47.tar\n  \
proj-import /data/old/CS-t20s-demo\n  proj-import --instance /data/instance project.tar.zst\n  \
proj-import list --table\n  proj-import detach P7\n  proj-import rollback /data/old/CS-t20s-demo\n\n\
Exit status: 0 on success, 1 when the project cannot be imported or on bad data (nothing is \
changed), 2 on bad usage."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The project folder, or a .tar / .tar.gz / .tar.zst / .tar.bz2 / .tar.xz of one ("-": a tar
    /// on standard input).
    #[arg(value_name = "PROJECT|ARCHIVE")]
    pub source: Option<String>,

    /// The instance folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub instance: Option<PathBuf>,

    /// Import active jobs, marked killed (as cryoSPARC's migration does).
    #[arg(long)]
    pub force: bool,

    /// Replace a cs.lock that another instance holds.
    #[arg(long)]
    pub steal_lock: bool,

    /// Print the man page or a shell completion script.
    #[arg(long, hide = true, value_enum, value_name = "WHAT")]
    pub generate: Option<Generate>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the problems of a project folder, or of a tar of one (read as a stream, nothing
    /// written), as JSON-lines; exit 1 if it cannot be imported.
    Check {
        /// The project folder, or a .tar / .tar.gz / .tar.zst / .tar.bz2 / .tar.xz of one ("-": a
        /// tar on standard input).
        #[arg(value_name = "PROJECT|ARCHIVE")]
        project: PathBuf,
    },
    /// The instance's projects as JSON-lines.
    List {
        /// A table for people.
        #[arg(long)]
        table: bool,
    },
    /// Unregister a project and remove our cs.lock (project files are never deleted).
    Detach {
        /// The project uid (P7).
        uid: String,
    },
    /// Undo an import that was interrupted (killed, or the machine went down): every file back
    /// as it was, the project out of the registry.
    Rollback {
        /// The project folder.
        project: PathBuf,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    cs_cli::main_with("proj-import", run)
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    Args::command()
}

/// Run `proj-import` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    if let Some(what) = args.generate {
        return cs_cli::generate(command(), what);
    }
    let inst_dir = instance_dir(args.instance.as_deref())?;
    match args.command {
        Some(Command::Check { project }) => check_command(&project, &inst_dir),
        Some(Command::List { table }) => list(&inst_dir, table),
        Some(Command::Detach { uid }) => detach(&inst_dir, &uid),
        Some(Command::Rollback { project }) => rollback(&project),
        None => {
            let Some(source) = args.source else {
                return Err(Failure::Usage(
                    "give a project folder or archive, or a subcommand (check, list, detach)"
                        .into(),
                ));
            };
            let allow = Allow {
                active: args.force,
                foreign_lock: args.steal_lock,
            };
            // A signal during the import undoes it (the guard's drop then exits 128 + signal); one
            // that arrives once it is complete is forgotten: the import stands and is reported.
            let inst = Instance::open(&inst_dir, true)?;
            let _deferred = cs_cli::signals::Deferred::start();
            let record = import(&source, inst, allow)?;
            cs_cli::signals::forget_pending();
            let mut out = cs_cli::stdout();
            writeln!(out, "{record}")?;
            out.flush()?;
            Ok(())
        }
    }
}

fn check_command(project: &Path, inst_dir: &Path) -> Outcome {
    // An interrupted import is the one thing to act on: the other problems describe a
    // half-rewritten tree, and finishing or rolling back needs no flags.
    let only = |problem| check::Checked {
        problems: vec![problem],
        ..Default::default()
    };
    let checked = if project.is_dir() {
        match journal_problem(project)? {
            Some(problem) => only(problem),
            None => check(project, peek_id(inst_dir).as_deref(), Allow::default()),
        }
    } else {
        let files = archive_files::ArchiveFiles::read(&project.display().to_string())?;
        if files.holds(journal::FILE_NAME) {
            only(check::Problem {
                problem: "interrupted_import",
                path: journal::FILE_NAME.to_string(),
                detail: "the project was archived during an import: finish it or roll it back \
                         where it was, then archive it again"
                    .into(),
                blocking: true,
            })
        } else {
            let id = peek_id(inst_dir);
            check::check_files(&files, id.as_deref(), Allow::default())
        }
    };
    let mut out = cs_cli::stdout();
    for p in &checked.problems {
        writeln!(out, "{}", p.to_json())?;
    }
    out.flush()?;
    if checked.problems.iter().any(|p| p.blocking) {
        return Err(Failure::Quiet);
    }
    Ok(())
}

/// An import under way or interrupted, as a blocking problem.
fn journal_problem(project: &Path) -> Result<Option<check::Problem>, Failure> {
    let project = std::fs::canonicalize(project).map_err(|e| cs_cli::io_failure(&e, project))?;
    let detail = match journal::find(&project) {
        Err(Failure::Data(e)) => format!("{e}"),
        Err(f) => return Err(f),
        Ok(Found::Nothing) => return Ok(None),
        Ok(Found::Live) => "an import of this project is running now".to_string(),
        Ok(Found::Interrupted(j)) => format!(
            "an import into the instance {} was interrupted: run it again to finish it, or \
             proj-import rollback to undo it",
            j.plan.instance_dir
        ),
    };
    Ok(Some(check::Problem {
        problem: "interrupted_import",
        path: journal::FILE_NAME.to_string(),
        detail,
        blocking: true,
    }))
}

fn list(inst_dir: &Path, table: bool) -> Outcome {
    let inst = Instance::open(inst_dir, false)?;
    let mut out = cs_cli::stdout();
    if table {
        writeln!(
            out,
            "{:<6} {:<30} {:<25} FOLDER",
            "UID", "TITLE", "IMPORTED"
        )?;
    }
    for p in &inst.projects {
        let exists = Path::new(&p.dir).join("project.json").is_file();
        // An import still under way, or killed half-way (its journal is there).
        let importing = Path::new(&p.dir).join(journal::FILE_NAME).exists();
        if table {
            let note = match (exists, importing) {
                (false, _) => " (missing)",
                (true, true) => " (import not finished: run it again, or proj-import rollback)",
                (true, false) => "",
            };
            writeln!(
                out,
                "{:<6} {:<30} {:<25} {}{note}",
                p.uid, p.title, p.imported_at, p.dir
            )?;
        } else {
            let mut v = registered_json(p);
            v["exists"] = json!(exists);
            v["import_finished"] = json!(!importing);
            writeln!(out, "{v}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Our `cs.lock` content.
fn lock_json(instance_id: &str) -> Value {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    json!({
        "instance_id": instance_id,
        "hostname": host,
        "locked_at": cs_format::timestamp::now_iso(),
    })
}

fn detach(inst_dir: &Path, uid: &str) -> Outcome {
    let mut inst = Instance::open(inst_dir, true)?;
    let Some(i) = inst.projects.iter().position(|p| p.uid == uid) else {
        return Err(Error::in_whole_file(format!("has no project {uid}"))
            .in_file(&shown(&inst_dir.join("instance.json")))
            .into());
    };
    // The lock goes first, then the entry: a detach stopped in between is finished by running
    // it again.
    let entry = inst.projects.remove(i);
    let lock = Path::new(&entry.dir).join("cs.lock");
    let ours = instance::lock_holder(Path::new(&entry.dir)).is_some_and(|id| id == inst.id);
    let _deferred = cs_cli::signals::Deferred::start();
    if ours {
        match std::fs::remove_file(&lock) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(cs_cli::io_failure(&e, &lock))
            }
            _ => {}
        }
    }
    inst.save()?;
    let mut out = cs_cli::stdout();
    writeln!(
        out,
        "{}",
        json!({"detached": entry.uid, "dir": entry.dir, "lock_removed": ours})
    )?;
    out.flush()?;
    Ok(())
}

/// Import a project folder or archive into the instance; returns the record to print.
fn import(source: &str, mut inst: Instance, allow: Allow) -> Result<Value, Failure> {
    let src = Path::new(source);
    if source != "-" && src.is_dir() {
        let project = std::fs::canonicalize(src).map_err(|e| cs_cli::io_failure(&e, src))?;
        let key = project.display().to_string();
        return import_folder(&mut inst, Where::InPlace(&project), allow, &key);
    }
    let key = archive_key(source);
    let imports = inst.dir.join("imports");
    std::fs::create_dir_all(&imports).map_err(|e| cs_cli::io_failure(&e, &imports))?;
    let imports = std::fs::canonicalize(&imports).map_err(|e| cs_cli::io_failure(&e, &imports))?;
    if let Some(journal) = interrupted_import_of(&imports, &key) {
        if key == "-" {
            // Standard input cannot be recognised again: finish that import by its folder.
            let dir = journal.plan.entry.dir.clone();
            return Err(Error::in_whole_file(format!(
                "an import from standard input was interrupted in {dir}: run proj-import {dir} \
                 to finish it, or proj-import rollback {dir} to undo it, then import again"
            ))
            .in_file("-")
            .into());
        }
        return resume(&mut inst, journal, allow);
    }
    let tmp = cs_format::temp::dir_in(&imports).map_err(|e| cs_cli::io_failure(&e, &imports))?;
    cs_cli::unpack::safe_unpack(cs_cli::unpack::tar_reader(source)?, tmp.path(), source)?;
    // The archive's one top-level folder (else everything), and the project in it.
    let top = single_top_folder(tmp.path()).unwrap_or_else(|| tmp.path().to_path_buf());
    let project_in_top = project_within(&top).ok_or_else(|| {
        Failure::from(
            Error::in_whole_file("does not hold one project folder (with project.json)")
                .in_file(source),
        )
    })?;
    // A project alone moves to imports/<name>; with siblings (the raw data its links point
    // to, say) the whole top folder moves, and the project is found inside it.
    let name = if top == tmp.path() {
        archive_stem(source)
    } else {
        top.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| archive_stem(source))
    };
    let mut dest = imports.join(&name);
    let mut k = 2;
    while std::fs::symlink_metadata(&dest).is_ok() {
        dest = imports.join(format!("{name}-{k}"));
        k += 1;
    }
    let unpacked = Unpacked {
        now: top.join(&project_in_top),
        project: dest.join(&project_in_top),
        top,
        dest,
        tmp,
    };
    import_folder(&mut inst, Where::Unpacked(unpacked), allow, &key)
}

/// How an archive is named in its import's journal: its absolute path ("-" for stdin).
fn archive_key(source: &str) -> String {
    if source == "-" {
        return "-".into();
    }
    std::fs::canonicalize(source)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| source.to_string())
}

/// The interrupted import of the archive `key` under `imports/` (its project is at most one
/// folder down), if any.
fn interrupted_import_of(imports: &Path, key: &str) -> Option<Journal> {
    let entries = std::fs::read_dir(imports).ok()?;
    for entry in entries.flatten() {
        let dir = entry.path();
        if !dir.is_dir() || cs_format::temp::is_temp_name(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let below = std::fs::read_dir(&dir)
            .map(|l| l.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default();
        for candidate in std::iter::once(dir.clone()).chain(below) {
            if !candidate.join(journal::FILE_NAME).is_file() {
                continue;
            }
            // A journal that cannot be read is another import's problem (check reports it).
            if let Ok(Found::Interrupted(j)) = journal::find(&candidate) {
                if j.plan.source == key {
                    return Some(*j);
                }
            }
        }
    }
    None
}

/// A folder name for an archive's contents: its file name without `.tar…`.
fn archive_stem(source: &str) -> String {
    let name = Path::new(source)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [
        ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar",
    ]
    .iter()
    .find_map(|ext| name.strip_suffix(ext))
    .unwrap_or(&name);
    if stem.is_empty() || source == "-" {
        "archive".to_string()
    } else {
        stem.to_string()
    }
}

/// The one entry of a folder, when it is a folder.
fn single_top_folder(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    match entries.as_slice() {
        [one] if one.is_dir() && !one.is_symlink() => Some(one.clone()),
        _ => None,
    }
}

/// Where the project is inside `top`: `top` itself (empty path) or its one sub-folder that
/// holds a project.json.
fn project_within(top: &Path) -> Option<PathBuf> {
    if top.join("project.json").is_file() {
        return Some(PathBuf::new());
    }
    let found: Vec<PathBuf> = std::fs::read_dir(top)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && e.path().join("project.json").is_file())
        .map(|e| PathBuf::from(e.file_name()))
        .collect();
    match found.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Where the project to import is.
enum Where<'a> {
    /// A folder imported where it is.
    InPlace(&'a Path),
    /// An archive's contents, unpacked in a temporary folder and moved under `imports/` once
    /// the journal is in it.
    Unpacked(Unpacked),
}

/// An unpacked archive on its way under `imports/`.
struct Unpacked {
    /// The project folder now (in the temporary folder).
    now: PathBuf,
    /// The project folder once moved.
    project: PathBuf,
    /// The folder that moves.
    top: PathBuf,
    /// Where it moves to.
    dest: PathBuf,
    tmp: cs_format::temp::TempDir,
}

impl Unpacked {
    /// Move the unpacked folder to its place under `imports/`.
    fn move_into_place(self) -> Result<(), Failure> {
        let moved = if self.top == self.tmp.path() {
            // The mode first: a kill after the rename must not leave the project private.
            std::fs::set_permissions(
                self.tmp.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )
            .and_then(|()| self.tmp.rename_to(&self.dest))
        } else {
            std::fs::rename(&self.top, &self.dest)
        };
        moved.map_err(|e| cs_cli::io_failure(&e, &self.dest))
    }
}

/// Test builds only (debug assertions): stop dead at a named step, as `kill -9` would, when
/// `CSUTILS_FAIL_AT` names it; with `pause:STEP`, wait there (up to 30 s) for a signal.
fn fail_point(step: &str) {
    #[cfg(debug_assertions)]
    if let Ok(want) = std::env::var("CSUTILS_FAIL_AT") {
        if want == step {
            std::process::exit(137);
        }
        if want.strip_prefix("pause:") == Some(step) {
            let start = std::time::Instant::now();
            while cs_cli::signals::pending().is_none()
                && start.elapsed() < std::time::Duration::from_secs(30)
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

fn in_progress(project: &Path) -> Failure {
    Error::in_whole_file(format!(
        "another proj-import of this project is running now (its {} is locked)",
        journal::FILE_NAME
    ))
    .in_file(&shown(project))
    .into()
}

/// Import a project: plan every change, write the journal, register, rewrite the files,
/// remove the journal. A failure or a signal on the way undoes what was done.
fn import_folder(
    inst: &mut Instance,
    at: Where,
    allow: Allow,
    key: &str,
) -> Result<Value, Failure> {
    let (now, project) = match &at {
        Where::InPlace(p) => (p.to_path_buf(), p.to_path_buf()),
        Where::Unpacked(u) => (u.now.clone(), u.project.clone()),
    };
    if let Where::InPlace(p) = &at {
        match journal::find(p)? {
            Found::Live => return Err(in_progress(p)),
            Found::Interrupted(j) => return resume(inst, *j, allow),
            Found::Nothing => {}
        }
    }
    let plan = plan_import(inst, &now, &project, allow, key)?;
    // Signals are deferred by the caller for the whole import; one during the check stops
    // here, before anything is written.
    cs_cli::signals::stop_if_signalled()?;
    if !inst.dir.join("instance.json").exists() {
        // A new instance's id is written before a journal or cs.lock names it.
        inst.save()?;
    }
    let Some(journal) = journal::create(plan, &now)? else {
        return Err(in_progress(&project));
    };
    let placed = match at {
        Where::Unpacked(u) => {
            let dest = u.dest.clone();
            u.move_into_place()?;
            Some(dest)
        }
        Where::InPlace(_) => None,
    };
    let result = if journal.originals_unchanged() {
        fail_point("journal");
        commit(inst, journal)
    } else {
        journal.remove()?;
        Err(Error::in_whole_file(
            "changed while it was being imported (nothing was changed): run proj-import again",
        )
        .in_file(&shown(&project))
        .into())
    };
    // An unpacked copy goes again only when nothing refers to it: its import was undone (no
    // journal) and it is not registered.
    if let (Err(_), Some(dest)) = (&result, placed) {
        let undone = !project.join(journal::FILE_NAME).exists()
            && inst.registered_at(&project.display().to_string()).is_none();
        if undone {
            let _ = std::fs::remove_dir_all(dest);
        }
    }
    result
}

/// Finish an interrupted import (its journal is locked by us now).
fn resume(inst: &mut Instance, journal: Journal, allow: Allow) -> Result<Value, Failure> {
    let plan = journal.plan.clone();
    let project = plan.project().to_path_buf();
    let here = inst.canonical_dir()?;
    if plan.instance_dir != here {
        return Err(Error::in_whole_file(format!(
            "holds an interrupted import into the instance {0}: run proj-import --instance {0} \
             again to finish it, or proj-import rollback {1} to undo it",
            plan.instance_dir,
            shown(&project)
        ))
        .in_file(&shown(&project))
        .into());
    }
    let uid_taken = inst
        .projects
        .iter()
        .any(|p| p.uid == plan.entry.uid && p.dir != plan.entry.dir);
    if uid_taken {
        // Its number went to another project, so it was never registered and no file was
        // changed: start again.
        journal.restore()?;
        journal.remove()?;
        return import_folder(inst, Where::InPlace(&project), allow, &plan.source);
    }
    commit(inst, journal)
}

/// Register the project, write every new file, remove the journal; undo on a failure or a
/// signal.
fn commit(inst: &mut Instance, journal: Journal) -> Result<Value, Failure> {
    let plan = journal.plan.clone();
    let ours = |p: &Registered| p.uid == plan.entry.uid && p.dir == plan.entry.dir;
    if !inst.projects.iter().any(ours) {
        inst.projects.push(plan.entry.clone());
        inst.next_project = inst.next_project.max(plan.number + 1);
        if let Err(f) = inst.save() {
            inst.projects.retain(|p| !ours(p));
            journal.remove()?;
            return Err(f);
        }
    }
    fail_point("registered");
    let written = journal.write_new(|i| {
        if i > 0 {
            fail_point(&format!("file-{i}"));
        }
        match cs_cli::signals::pending() {
            Some(_) => Err(Failure::Quiet),
            None => Ok(()),
        }
    });
    // A signal during the last file is seen here: undo rather than stop with the change made.
    let written = written.and_then(|()| cs_cli::signals::stop_if_signalled());
    if let Err(f) = written {
        undo(inst, &journal)?;
        journal.remove()?;
        return Err(f);
    }
    fail_point("written");
    journal.remove()?;
    Ok(plan.record)
}

/// Put the project's files back and take it out of the registry.
fn undo(inst: &mut Instance, journal: &Journal) -> Result<(), Failure> {
    journal.restore()?;
    let entry = &journal.plan.entry;
    let before = inst.projects.len();
    inst.projects
        .retain(|p| !(p.uid == entry.uid && p.dir == entry.dir));
    if inst.projects.len() != before {
        inst.save()?;
    }
    Ok(())
}

/// `proj-import rollback PROJECT`: undo an interrupted import.
fn rollback(project: &Path) -> Outcome {
    let project = std::fs::canonicalize(project).map_err(|e| cs_cli::io_failure(&e, project))?;
    let journal = match journal::find(&project)? {
        Found::Nothing => {
            return Err(
                Error::in_whole_file("has no interrupted import to roll back")
                    .in_file(&shown(&project))
                    .into(),
            )
        }
        Found::Live => return Err(in_progress(&project)),
        Found::Interrupted(j) => *j,
    };
    let mut inst = Instance::open(Path::new(&journal.plan.instance_dir), true)?;
    let _deferred = cs_cli::signals::Deferred::start();
    undo(&mut inst, &journal)?;
    let record = json!({
        "rolled_back": journal.plan.entry.uid,
        "dir": journal.plan.entry.dir,
        "files_restored": journal.plan.files.len(),
    });
    journal.remove()?;
    let mut out = cs_cli::stdout();
    writeln!(out, "{record}")?;
    out.flush()?;
    Ok(())
}

/// Check the project at `now` and decide every change an import into `project` makes.
fn plan_import(
    inst: &Instance,
    now: &Path,
    project: &Path,
    allow: Allow,
    key: &str,
) -> Result<Plan, Failure> {
    let dir_text = project.display().to_string();
    if let Some(p) = inst.registered_at(&dir_text) {
        return Err(Error::in_whole_file(format!(
            "is already registered in this instance as {}",
            p.uid
        ))
        .in_file(&dir_text)
        .into());
    }
    let checked = check(now, Some(&inst.id), allow);
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
        .in_file(&dir_text)
        .into());
    }
    let Some(mut doc) = checked.project.clone() else {
        return Err(Error::in_whole_file("has no readable project.json")
            .in_file(&dir_text)
            .into());
    };
    let n = inst.next_number();
    let uid = format!("P{n}");
    let old_uid = doc
        .get("uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let old_title = doc
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let title = format!("Imported: {old_title}");
    let now_time = cs_format::timestamp::now_iso();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("uid".into(), json!(uid));
        obj.insert("uid_num".into(), json!(n));
        obj.insert("title".into(), json!(title));
        obj.insert("created_at".into(), json!(now_time));
        obj.insert("project_dir".into(), json!(dir_text));
    }
    let mut files = vec![change(now, "project.json", to_json_text(&doc))?];
    let mut killed = Vec::new();
    for (folder, job) in &checked.jobs {
        let rel = format!("{folder}/job.json");
        let mut jd = read_json(&now.join(&rel))?;
        if let Some(obj) = jd.as_object_mut() {
            obj.insert("project_uid".into(), json!(uid));
            if obj.contains_key("project_uid_num") {
                obj.insert("project_uid_num".into(), json!(n));
            }
            if job.is_active() {
                obj.insert("status".into(), json!("killed"));
                killed.push(job.uid.clone());
            }
        }
        files.push(change(now, &rel, to_json_text(&jd))?);
    }
    let ws_path = now.join("workspaces.json");
    let mut ws = read_json(&ws_path)?;
    if let Some(list) = ws.as_array_mut() {
        for w in list.iter_mut().filter_map(Value::as_object_mut) {
            w.insert("project_uid".into(), json!(uid));
            if w.contains_key("project_uid_num") {
                w.insert("project_uid_num".into(), json!(n));
            }
        }
    }
    files.push(change(now, "workspaces.json", to_json_text(&ws))?);
    files.push(change(now, "cs.lock", to_json_text(&lock_json(&inst.id)))?);
    let entry = Registered {
        uid: uid.clone(),
        dir: dir_text.clone(),
        title: title.clone(),
        imported_at: now_time,
        source_uid: old_uid.clone(),
    };
    let warnings: Vec<Value> = checked
        .problems
        .iter()
        .filter(|p| !p.blocking)
        .map(|p| p.to_json())
        .collect();
    let record = json!({
        "project": uid,
        "title": title,
        "dir": dir_text,
        "source_uid": old_uid,
        "jobs": checked.jobs.len(),
        "killed": killed,
        "warnings": warnings,
    });
    let instance_dir = inst.canonical_dir()?;
    Ok(Plan {
        instance_dir,
        source: key.to_string(),
        entry,
        number: n,
        files,
        record,
    })
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
