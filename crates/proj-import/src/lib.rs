//! `proj-import`: check a project folder, import it into an instance under a new project uid,
//! list the instance's projects, detach one.

mod archive_files;
mod check;
mod instance;
mod journal;

use check::{check, Allow};
use clap::{CommandFactory, Parser, Subcommand};
use cs_archive::{LinksOut, MadeFolders, Unpacked};
use cs_cli::{Failure, Generate, Outcome};
use cs_format::project::job::to_json_text;
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
        Some(Command::Check { project }) => check_command(&project, &inst_dir, args.allow_missing),
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
            if source != "-" {
                // A source that is not there is named before the instance folder is made.
                let path = Path::new(&source);
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
struct Choices {
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

/// Import a project folder or archive (unpacked in `unpack_in`, else `imports/`) into the
/// instance; returns the record to print.
fn import(
    source: &str,
    unpack_in: Option<&Path>,
    inst: &mut Instance,
    choices: &Choices,
) -> Result<Value, Failure> {
    let src = Path::new(source);
    if source != "-" && src.is_dir() {
        let project = std::fs::canonicalize(src).map_err(|e| cs_cli::io_failure(&e, src))?;
        let key = project.display().to_string();
        return import_folder(inst, Where::InPlace(&project), choices, &key);
    }
    let key = archive_key(source);
    if let Some(journal) = interrupted_import_of(&unpack_roots(inst, unpack_in), &key) {
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
        return resume(inst, journal, choices);
    }
    if let Some(held) = inst
        .imported_from(&key)
        .filter(|_| !choices.again && key != "-")
    {
        return Err(already_imported(source, held));
    }
    // The folder the archive is unpacked in: --dest, else INSTANCE/imports (made now, and
    // removed again when a failed import leaves it empty).
    let (imports, made) = unpack_root(inst, unpack_in)?;
    let result = unpack_and_import(source, &imports, inst, choices, &key);
    if let (Err(_), Some(made)) = (&result, made) {
        made.remove_if_empty();
    }
    result
}

/// Unpack an archive into a temporary folder in `imports` and import the project in it.
fn unpack_and_import(
    source: &str,
    imports: &Path,
    inst: &mut Instance,
    choices: &Choices,
    key: &str,
) -> Result<Value, Failure> {
    // A project alone moves to imports/<name>; with siblings (the raw data its links point
    // to, say) the whole archive moves, and the project is found inside it.
    let links_out = LinksOut::left_out_if(choices.allow.links_out);
    let name_from_inside = |_: &Path| archive_name(source);
    let stop = cs_cli::signals::stop_if_signalled;
    let unpacked = Unpacked::unpack(source, imports, links_out, name_from_inside, stop)?;
    let project_in_top = project_within(unpacked.contents()).ok_or_else(|| {
        Failure::from(
            Error::in_whole_file("does not hold one project folder (with project.json)")
                .in_file(source),
        )
    })?;
    let now = folder_within(unpacked.contents(), &project_in_top);
    // The links left out, named as a check of the archive names them.
    let project_in_archive = unpacked.name_in_archive(&now).unwrap_or_default();
    let links_left_out = unpacked
        .links_left_out()
        .iter()
        .map(|l| {
            let path = l.path.strip_prefix(&project_in_archive).unwrap_or(&l.path);
            check::link_out_of_archive(&path.display().to_string(), &l.target, true)
        })
        .collect();
    let unpacked = Unpacking {
        project: folder_within(unpacked.destination(), &project_in_top),
        project_in_archive,
        now,
        unpacked,
        source: source.to_string(),
        links_left_out,
    };
    import_folder(inst, Where::Unpacked(Box::new(unpacked)), choices, key)
}

/// `dir/rel`, and `dir` itself (not `dir/`) when `rel` is empty.
fn folder_within(dir: &Path, rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        dir.to_path_buf()
    } else {
        dir.join(rel)
    }
}

/// The folder an archive is unpacked in, resolved: `unpack_in` (already resolved), else
/// `INSTANCE/imports`, made if need be (then removed again by a failed import).
fn unpack_root(
    inst: &Instance,
    unpack_in: Option<&Path>,
) -> Result<(PathBuf, Option<MadeFolders>), Failure> {
    if let Some(d) = unpack_in {
        return Ok((d.to_path_buf(), None));
    }
    let imports = inst.dir.join("imports");
    let made = MadeFolders::make(&imports)?;
    let resolved = std::fs::canonicalize(&imports).map_err(|e| cs_cli::io_failure(&e, &imports))?;
    Ok((resolved, Some(made)))
}

/// Where an interrupted import of an archive may be: the `--dest` folder of this run,
/// `imports/` and every folder an earlier `--dest` named (those that exist).
fn unpack_roots(inst: &Instance, unpack_in: Option<&Path>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = unpack_in.map(Path::to_path_buf).into_iter().collect();
    let others = std::iter::once(inst.dir.join("imports"))
        .chain(inst.unpack_folders.iter().map(PathBuf::from));
    for dir in others.filter_map(|d| std::fs::canonicalize(d).ok()) {
        if !roots.contains(&dir) {
            roots.push(dir);
        }
    }
    roots
}

/// The refusal of a project this instance already holds.
fn already_imported(named: &str, held: &Registered) -> Failure {
    Error::in_whole_file(format!(
        "is already imported as {} at {}; give --force to import it again as a new project",
        held.uid, held.dir
    ))
    .in_file(named)
    .into()
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

/// The interrupted import of the archive `key` under one of `roots` (its project is at most one
/// folder down), if any.
fn interrupted_import_of(roots: &[PathBuf], key: &str) -> Option<Journal> {
    let entries = roots
        .iter()
        .filter_map(|root| std::fs::read_dir(root).ok())
        .flatten();
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

/// A folder name for an archive's contents: its file name without `.tar…`, else `archive`.
fn archive_name(source: &str) -> String {
    cs_archive::archive_stem(source).unwrap_or_else(|| "archive".into())
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
    Unpacked(Box<Unpacking>),
}

/// An unpacked archive on its way under `imports/` (or the `--dest` folder).
struct Unpacking {
    /// The project folder now (in the temporary folder).
    now: PathBuf,
    /// The project folder once moved.
    project: PathBuf,
    /// The project folder's name in the archive (empty: the archive's top).
    project_in_archive: PathBuf,
    /// The archive, unpacked and not yet moved.
    unpacked: Unpacked,
    /// The archive as given, to name in messages (the folders above do not exist yet).
    source: String,
    /// The archive's links that lead outside it, left out (`--allow-missing`), as warnings.
    links_left_out: Vec<check::Problem>,
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
    choices: &Choices,
    key: &str,
) -> Result<Value, Failure> {
    let (now, project, named) = match &at {
        Where::InPlace(p) => (p.to_path_buf(), p.to_path_buf(), shown(p)),
        Where::Unpacked(u) => (u.now.clone(), u.project.clone(), u.source.clone()),
    };
    // An unpacked archive's files are named inside the archive, never by the temporary folder.
    let files_named = match &at {
        Where::InPlace(_) => None,
        Where::Unpacked(u) => Some(format!("{}:{}", u.source, u.project_in_archive.display())),
    };
    if let Where::InPlace(p) = &at {
        match journal::find(p)? {
            Found::Live => return Err(in_progress(p)),
            Found::Interrupted(j) => return resume(inst, *j, choices),
            Found::Nothing => {}
        }
    }
    let names = Names {
        key,
        named: &named,
        files: files_named.as_deref(),
    };
    let mut plan = plan_import(inst, &now, &project, choices, &names)?;
    if let (Where::Unpacked(u), Some(warnings)) = (&at, plan.record["warnings"].as_array_mut()) {
        warnings.extend(u.links_left_out.iter().map(check::Problem::to_json));
    }
    // Signals are deferred by the caller for the whole import; one during the check stops
    // here, before anything is written.
    cs_cli::signals::stop_if_signalled()?;
    save_before_journal(inst, &at)?;
    let Some(journal) = journal::create(plan, &now)? else {
        return Err(in_progress(&project));
    };
    let placed = match at {
        Where::Unpacked(u) => Some(u.unpacked.place()?),
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
    if let (Err(_), Some(placed)) = (&result, placed) {
        let undone = !project.join(journal::FILE_NAME).exists()
            && inst.registered_at(&project.display().to_string()).is_none();
        if undone {
            let _ = std::fs::remove_dir_all(placed.dir());
        }
    }
    result
}

/// Write `instance.json` before a journal names it: a new instance's id, and a `--dest` folder
/// not yet recorded (where an interrupted import is looked for again).
fn save_before_journal(inst: &mut Instance, at: &Where) -> Result<(), Failure> {
    let imports = std::fs::canonicalize(inst.dir.join("imports")).ok();
    let new_folder = match at {
        Where::Unpacked(u) => u
            .unpacked
            .destination()
            .parent()
            .filter(|d| Some(*d) != imports.as_deref())
            .map(|d| d.display().to_string())
            .filter(|d| !inst.unpack_folders.contains(d)),
        Where::InPlace(_) => None,
    };
    if let Some(folder) = new_folder {
        inst.unpack_folders.push(folder);
        return inst.save();
    }
    if !inst.dir.join("instance.json").exists() {
        return inst.save();
    }
    Ok(())
}

/// Finish an interrupted import (its journal is locked by us now).
fn resume(inst: &mut Instance, journal: Journal, choices: &Choices) -> Result<Value, Failure> {
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
        return import_folder(inst, Where::InPlace(&project), choices, &plan.source);
    }
    commit(inst, journal)
}

/// Register the project, write every new file, remove the journal; undo on a failure or a
/// signal.
fn commit(inst: &mut Instance, journal: Journal) -> Result<Value, Failure> {
    let plan = journal.plan.clone();
    let ours = |p: &Registered| p.uid == plan.entry.uid && p.dir == plan.entry.dir;
    if !inst.projects.iter().any(ours) {
        let before = inst.projects.clone();
        if let Some(old) = &plan.replaces {
            inst.projects
                .retain(|p| !(p.uid == old.uid && p.dir == old.dir));
        }
        inst.projects.push(plan.entry.clone());
        inst.next_project = inst.next_project.max(plan.number + 1);
        if let Err(f) = inst.save() {
            inst.projects = before;
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

/// Put the project's files back and take it out of the registry (an entry it replaced back
/// in).
fn undo(inst: &mut Instance, journal: &Journal) -> Result<(), Failure> {
    journal.restore()?;
    let same = |a: &Registered, b: &Registered| a.uid == b.uid && a.dir == b.dir;
    let entry = &journal.plan.entry;
    let before = inst.projects.len();
    inst.projects.retain(|p| !same(p, entry));
    let mut changed = inst.projects.len() != before;
    if let Some(old) = &journal.plan.replaces {
        if !inst.projects.iter().any(|p| same(p, old)) {
            inst.projects.push(old.clone());
            changed = true;
        }
    }
    if changed {
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

/// Check the project at `now` and decide every change an import into `project` makes;
/// refusals name `named` (the folder, or the archive).
/// How an import names its source: in its journal (`key`), in messages (`named`), and the
/// project's files in messages (`files`, for an unpacked archive).
struct Names<'a> {
    key: &'a str,
    named: &'a str,
    files: Option<&'a str>,
}

fn plan_import(
    inst: &Instance,
    now: &Path,
    project: &Path,
    choices: &Choices,
    names: &Names,
) -> Result<Plan, Failure> {
    let (key, named) = (names.key, names.named);
    let dir_text = project.display().to_string();
    let held = inst
        .registered_at(&dir_text)
        .or_else(|| inst.original_of(now));
    if let Some(p) = held.filter(|_| !choices.again) {
        return Err(already_imported(named, p));
    }
    // The files an import rewrites, as they are before the check reads them: a change between
    // the two (another import finishing) is seen below, so what was checked is what is changed.
    let before = texts_before(now);
    let files = check::Folder::new(now, names.files);
    let checked = check::check_files(&files, Some(&inst.id), choices.allow);
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
    if let Some(p) = held {
        let again = format!(
            "warning: {named}: already imported as {} at {}; imported again as a new project \
             (--force)",
            p.uid, p.dir
        );
        cs_cli::report("proj-import", &again);
    }
    // The same folder again: its new entry replaces the old one.
    let replaces = held.filter(|p| p.dir == dir_text).cloned();
    let Some(mut doc) = checked.project.clone() else {
        return Err(Error::in_whole_file("has no readable project.json")
            .in_file(named)
            .into());
    };
    let n = inst.next_number();
    let uid = format!("P{n}");
    let text_of = |k: &str| {
        doc.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let old_uid = text_of("uid");
    let title = match (&choices.title, text_of("title")) {
        (Some(t), _) => t.clone(),
        // A project imported before (then copied, archived or imported again with --force) keeps one prefix.
        (None, old) if old.starts_with("Imported: ") => old,
        (None, old) => format!("Imported: {old}"),
    };
    let now_time = cs_format::project::timestamp::now_iso();
    let mut job_files = Vec::new();
    let mut killed = Vec::new();
    let mut imported_jobs = Vec::new();
    for (folder, job) in &checked.jobs {
        let rel = format!("{folder}/job.json");
        let mut jd = read_json(&now.join(&rel))?;
        let mut status = job.status.clone();
        if let Some(obj) = jd.as_object_mut() {
            obj.insert("project_uid".into(), json!(uid));
            if obj.contains_key("project_uid_num") {
                obj.insert("project_uid_num".into(), json!(n));
            }
            if job.is_active() {
                status = "killed".to_string();
                obj.insert("status".into(), json!(status));
                killed.push(job.uid.clone());
            }
        }
        imported_jobs.push(Counted::new(job, &status, &jd));
        job_files.push(change(now, &rel, to_json_text(&jd))?);
    }
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("uid".into(), json!(uid));
        obj.insert("uid_num".into(), json!(n));
        obj.insert("title".into(), json!(title));
        obj.insert("created_at".into(), json!(now_time));
        obj.insert("project_dir".into(), json!(dir_text));
    }
    recount_project(&mut doc, &imported_jobs, &now_time);
    let mut files = vec![change(now, "project.json", to_json_text(&doc))?];
    files.extend(job_files);
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
    recount_workspaces(&mut ws, &imported_jobs, &now_time);
    files.push(change(now, "workspaces.json", to_json_text(&ws))?);
    files.push(change(now, "cs.lock", to_json_text(&lock_json(&inst.id)))?);
    if files
        .iter()
        .any(|f| before.get(&f.rel) != Some(&f.original))
    {
        return Err(Error::in_whole_file(
            "changed while it was being checked (nothing was changed): run proj-import again",
        )
        .in_file(named)
        .into());
    }
    let entry = Registered {
        uid: uid.clone(),
        dir: dir_text.clone(),
        title: title.clone(),
        imported_at: now_time,
        source_uid: old_uid.clone(),
        source_instance: instance::lock_holder(now).unwrap_or_default(),
        source: key.to_string(),
    };
    let warnings: Vec<Value> = checked
        .problems
        .iter()
        .filter(|p| !p.blocking)
        .map(|p| p.to_json())
        .collect();
    let mut record = json!({
        "project": uid,
        "title": title,
        "dir": dir_text,
        "source_uid": old_uid,
        "jobs": checked.jobs.len(),
        "killed": killed,
        "warnings": warnings,
    });
    if let Some(old) = &replaces {
        record["replaced"] = json!(old.uid);
    }
    let instance_dir = inst.canonical_dir()?;
    Ok(Plan {
        instance_dir,
        source: key.to_string(),
        entry,
        replaces,
        number: n,
        files,
        record,
    })
}

/// A job as imported, for the statistics.
struct Counted {
    status: String,
    job_type: String,
    /// Its `workspace_uids`, when job.json has them.
    workspaces: Option<Vec<String>>,
}

impl Counted {
    fn new(job: &cs_format::project::job::Job, status: &str, doc: &Value) -> Counted {
        let workspaces = doc
            .get("workspace_uids")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            });
        Counted {
            status: status.to_string(),
            job_type: job.job_type.clone(),
            workspaces,
        }
    }
}

/// Recount job statistics (`project_stats` of project.json, `workspace_stats` of each
/// workspace): `job_count`, `job_status` (jobs by status), `job_types` and `updated_at`, each
/// where the object has it; other keys are kept, and nothing is added where there are none.
fn recount(stats: &mut serde_json::Map<String, Value>, jobs: &[&Counted], now: &str) {
    let count = |key: fn(&Counted) -> &str| {
        let mut counts = std::collections::BTreeMap::<&str, u64>::new();
        for job in jobs {
            *counts.entry(key(job)).or_default() += 1;
        }
        json!(counts)
    };
    let recounted = [
        ("job_count", json!(jobs.len())),
        ("job_status", count(|j| &j.status)),
        ("job_types", count(|j| &j.job_type)),
        ("updated_at", json!(now)),
    ];
    for (key, value) in recounted {
        if let Some(slot) = stats.get_mut(key) {
            *slot = value;
        }
    }
}

/// Recount `project_stats` in a project document from every job.
fn recount_project(doc: &mut Value, jobs: &[Counted], now: &str) {
    if let Some(stats) = doc.get_mut("project_stats").and_then(Value::as_object_mut) {
        recount(stats, &jobs.iter().collect::<Vec<_>>(), now);
    }
}

/// Recount each workspace's `workspace_stats` from the jobs in it (their `workspace_uids`);
/// left as they are when a job does not say its workspaces.
fn recount_workspaces(ws: &mut Value, jobs: &[Counted], now: &str) {
    if jobs.iter().any(|j| j.workspaces.is_none()) {
        return;
    }
    for w in ws.as_array_mut().into_iter().flatten() {
        let uid = w.get("uid").and_then(Value::as_str).map(str::to_string);
        let stats = w.get_mut("workspace_stats").and_then(Value::as_object_mut);
        if let (Some(uid), Some(stats)) = (uid, stats) {
            let inside: Vec<&Counted> = jobs
                .iter()
                .filter(|j| j.workspaces.iter().flatten().any(|u| *u == uid))
                .collect();
            recount(stats, &inside, now);
        }
    }
}

/// The texts of the files an import may rewrite (project.json, workspaces.json, cs.lock, every
/// `J<n>/job.json`; None where there is none), by their names in the project.
fn texts_before(now: &Path) -> std::collections::HashMap<String, Option<String>> {
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
