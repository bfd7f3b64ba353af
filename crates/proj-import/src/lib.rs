//! `proj-import`: check a project folder, import it into an instance under a new project uid,
//! list the instance's projects, detach one.

mod archive_files;
mod check;
mod import;
mod instance;
mod journal;
mod plan;
mod unpacking;

use check::{check, Allow};
use clap::{Parser, Subcommand};
use cs_cli::{Failure, Outcome};
use cs_format::project::shown;
use cs_format::Error;
use import::{import, undo};
use instance::{instance_dir, peek_id, registered_json, Instance};
use journal::Found;
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Check, import, list and detach whole cryoSPARC projects.
#[derive(Debug, Parser)]
#[command(
    name = "proj-import",
    version,
    about = "Check, import, list and detach whole cryoSPARC projects",
    long_about = "Import an intact cryoSPARC project folder (or a tar of one) into an instance: it \
gets the next free project uid, the title 'Imported: <old title>' (or --title), a new creation \
time, recounted job statistics, our cs.lock, and an entry in the instance's registry. A folder is \
imported where it is; an archive is unpacked into INSTANCE/imports/<name>, or DIR/<name> with \
--dest DIR. A project this instance already holds (the same folder or archive, or another copy \
of the same project under the same cs.lock) is refused unless --force. The whole change is first \
written to a journal in the project folder (.csutils-import-journal.json, which also keeps a second import of the same \
project out); a failure or SIGINT/SIGTERM/SIGHUP on the way puts every file back (exit 1, or \
130/143/129). After a kill -9 or a crash, running the same command again finishes the import; \
proj-import rollback PROJECT undoes it instead.\n\n\
The instance is a folder (--instance DIR, else $CSUTILS_INSTANCE, else \
$XDG_DATA_HOME/csutils/instance) holding instance.json; commands on one instance take turns \
(a file lock).",
    after_help = "Examples:\n  proj-import check /data/old/CS-t20s-demo\n  proj-import check P47.tar\n  \
proj-import /data/old/CS-t20s-demo\n  proj-import --instance /data/instance project.tar.zst\n  \
proj-import --dest /big/disk --title 'T20S from Lund' project.tar.zst\n  \
proj-import list --table\n  proj-import detach P7\n  proj-import rollback /data/old/CS-t20s-demo\n\n\
Exit status: 0 on success, 1 when the project cannot be imported or on bad data (nothing is \
changed), 2 on bad usage."
)]
pub struct Args {
    /// The subcommand (none: import the project named by PROJECT|ARCHIVE).
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The project folder, or a .tar / .tar.gz / .tar.zst / .tar.bz2 / .tar.xz of one ("-": a tar
    /// on standard input).
    #[arg(value_name = "PROJECT|ARCHIVE")]
    pub source: Option<String>,

    /// The instance folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub instance: Option<PathBuf>,

    /// Import what is otherwise refused for the project's own state: active jobs (launched,
    /// started, running, waiting, queued), marked killed as cryoSPARC's migration does; and a
    /// project this instance already holds, again as a new project (with a warning; the same
    /// folder imported again replaces its registry entry).
    #[arg(long)]
    pub force: bool,

    /// The new project's title (default: "Imported: <old title>").
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// Unpack an archive into DIR/<name> (DIR must exist) rather than INSTANCE/imports/<name>.
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,

    /// Replace a cs.lock that another instance holds.
    #[arg(long)]
    pub steal_lock: bool,

    /// Import an archive even though links in it lead outside it (raw data that did not
    /// travel): they are left out, listed in the record's warnings. With check: such links
    /// are not blocking.
    #[arg(long, global = true)]
    pub allow_missing: bool,
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

/// A job folder, or a job number that names nothing, given for the project: refused with the
/// command line to try, before the instance folder is made or anything is read.
fn refuse_project_mixup(path: &Path) -> Outcome {
    if cs_format::project::is_project_dir(path) {
        return Ok(());
    }
    match cs_cli::hints::project_input_mixup(path, cs_cli::hints::ProjectWord::Alone) {
        Some(mixup) => Err(mixup.into()),
        None => Ok(()),
    }
}

/// Run `proj-import` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let inst_dir = instance_dir(args.instance.as_deref())?;
    let import_flags = args.force || args.steal_lock || args.title.is_some() || args.dest.is_some();
    if args.command.is_some() && import_flags {
        return Err(Failure::Usage(
            "--force, --steal-lock, --title and --dest are for an import, not for a \
             subcommand"
                .into(),
        ));
    }
    let for_import_or_check = matches!(args.command, None | Some(Command::Check { .. }));
    if args.allow_missing && !for_import_or_check {
        return Err(Failure::Usage(
            "--allow-missing is for an import or check, not for this subcommand".into(),
        ));
    }
    match args.command {
        Some(Command::Check { project }) => {
            refuse_project_mixup(&project)?;
            check_command(&project, &inst_dir, args.allow_missing)
        }
        Some(Command::List { table }) => list(&inst_dir, table),
        Some(Command::Detach { uid }) => detach(&inst_dir, &uid),
        Some(Command::Rollback { project }) => {
            refuse_project_mixup(&project)?;
            rollback(&project)
        }
        None => {
            let Some(source) = args.source else {
                return Err(Failure::Usage(
                    "give a project folder or archive, or a subcommand (check, list, detach)"
                        .into(),
                ));
            };
            if source != "-" {
                // A source that is not there is named before the instance folder is made.
                let path = Path::new(&source);
                refuse_project_mixup(path)?;
                std::fs::metadata(path).map_err(|e| cs_cli::io_failure(&e, path))?;
            }
            let dest = match &args.dest {
                Some(d) => Some(dest_folder(d, &source)?),
                None => None,
            };
            let choices = Choices {
                allow: Allow {
                    active: args.force,
                    foreign_lock: args.steal_lock,
                    links_out: args.allow_missing,
                },
                again: args.force,
                title: new_title(args.title)?,
            };
            // A signal during the import undoes it (the guard's drop then exits 128 + signal); one
            // that arrives once it is complete is forgotten: the import stands and is reported.
            let made = Made {
                folder: std::fs::symlink_metadata(&inst_dir).is_err(),
                lock: std::fs::symlink_metadata(inst_dir.join("instance.lock")).is_err(),
            };
            let mut inst = Instance::open(&inst_dir, true)?;
            let _deferred = cs_cli::signals::Deferred::start();
            let imported = import(&source, dest.as_deref(), &mut inst, &choices);
            if imported.is_err() && made.lock {
                // A refused first import leaves no instance folder (nor lock file) behind.
                inst.remove_if_unused(made.folder);
            }
            let record = imported?;
            cs_cli::signals::forget_pending();
            let mut out = cs_cli::stdout();
            writeln!(out, "{record}")?;
            out.flush()?;
            Ok(())
        }
    }
}

/// What this run made of the instance before it held its lock.
struct Made {
    /// The instance folder.
    folder: bool,
    /// Its `instance.lock`.
    lock: bool,
}

/// What an import may do beyond the default.
pub(crate) struct Choices {
    /// Problems that are warnings rather than refusals (--force, --steal-lock).
    allow: Allow,
    /// Import a project this instance already holds again, as a new project (--force).
    again: bool,
    /// The new title (--title), else "Imported: <old title>".
    title: Option<String>,
}

/// The `--title` text, which must not be empty or span lines.
fn new_title(given: Option<String>) -> Result<Option<String>, Failure> {
    match given {
        Some(t) if t.trim().is_empty() || t.contains(['\n', '\r']) => Err(Failure::Usage(
            "--title needs a title on one line, not empty".into(),
        )),
        other => Ok(other),
    }
}

/// The folder `--dest` names, resolved: an existing folder, and only for an archive.
fn dest_folder(dest: &Path, source: &str) -> Result<PathBuf, Failure> {
    if source != "-" && Path::new(source).is_dir() {
        return Err(Failure::Usage(format!(
            "--dest is for an archive: the project folder {source} is imported where it is"
        )));
    }
    let dir = std::fs::canonicalize(dest).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Failure::from(
            Error::in_whole_file(
                "no such folder (--dest names the folder an archive is unpacked in: create it first)",
            )
            .in_file(&shown(dest)),
        ),
        _ => cs_cli::io_failure(&e, dest),
    })?;
    if !dir.is_dir() {
        return Err(Error::in_whole_file(
            "is not a folder (--dest names the folder an archive is unpacked in)",
        )
        .in_file(&shown(dest))
        .into());
    }
    Ok(dir)
}

fn check_command(project: &Path, inst_dir: &Path, allow_missing: bool) -> Outcome {
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
            let allow = Allow {
                links_out: allow_missing,
                ..Allow::default()
            };
            check::check_files(&files, id.as_deref(), allow)
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
    let inst = Instance::open_existing(inst_dir, false)?;
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

fn detach(inst_dir: &Path, uid: &str) -> Outcome {
    let mut inst = Instance::open_existing(inst_dir, true)?;
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
