//! `proj-import`: check a project folder, import it into an instance under a new project uid,
//! list the instance's projects, detach one.

mod check;
mod instance;

use check::{check, Allow};
use clap::{CommandFactory, Parser, Subcommand};
use cs_cli::{Failure, Generate, Outcome};
use cs_format::job::to_json_text;
use cs_format::project::{read_json, shown};
use cs_format::Error;
use instance::{instance_dir, peek_id, registered_json, Instance, Registered};
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
cs.lock, and an entry in the instance's registry. Every file is written atomically and a failure \
at any step puts every file back.\n\n\
The instance is a folder (--instance DIR, else $CSUTILS_INSTANCE, else \
$XDG_DATA_HOME/csutils/instance) holding instance.json; commands on one instance take turns \
(a file lock).",
    after_help = "Examples:\n  proj-import check /data/old/CS-t20s-demo\n  \
proj-import /data/old/CS-t20s-demo\n  proj-import --instance /data/instance project.tar.zst\n  \
proj-import list --table\n  proj-import detach P7\n\n\
Exit status: 0 on success, 1 when the project cannot be imported or on bad data (nothing is \
changed), 2 on bad usage."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The project folder, or a .tar / .tar.gz / .tar.zst of one ("-": a tar on standard input).
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
    /// List the problems of a project folder as JSON-lines; exit 1 if it cannot be imported.
    Check {
        /// The project folder.
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
            let record = import(&source, &inst_dir, allow)?;
            let mut out = cs_cli::stdout();
            writeln!(out, "{record}")?;
            out.flush()?;
            Ok(())
        }
    }
}

fn check_command(project: &Path, inst_dir: &Path) -> Outcome {
    if !project.is_dir() {
        return Err(Error::in_whole_file("is not a folder")
            .in_file(&shown(project))
            .into());
    }
    let checked = check(project, peek_id(inst_dir).as_deref(), Allow::default());
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
        if table {
            writeln!(
                out,
                "{:<6} {:<30} {:<25} {}{}",
                p.uid,
                p.title,
                p.imported_at,
                p.dir,
                if exists { "" } else { " (missing)" }
            )?;
        } else {
            let mut v = registered_json(p);
            v["exists"] = json!(exists);
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
    let entry = inst.projects.remove(i);
    let lock = Path::new(&entry.dir).join("cs.lock");
    let ours = instance::lock_holder(Path::new(&entry.dir)).is_some_and(|id| id == inst.id);
    inst.save()?;
    if ours {
        std::fs::remove_file(&lock).map_err(|e| cs_cli::io_failure(&e, &lock))?;
    }
    let mut out = cs_cli::stdout();
    writeln!(
        out,
        "{}",
        json!({"detached": entry.uid, "dir": entry.dir, "lock_removed": ours})
    )?;
    out.flush()?;
    Ok(())
}

/// New contents for a set of files, put in place all together or not at all.
struct Changes {
    files: Vec<(PathBuf, String)>,
}

impl Changes {
    /// Write every new content to a temporary file beside its target, then rename them into
    /// place one by one, keeping each old file as a hard-linked backup; then run `commit`. If a
    /// rename or `commit` fails, every file is put back.
    fn apply(self, commit: impl FnOnce() -> Outcome) -> Outcome {
        let mut staged = Vec::new();
        for (path, text) in &self.files {
            let dir = cs_cli::folder_of(path);
            let mut tmp = tempfile::Builder::new()
                .prefix(".csutils.")
                .suffix(".tmp")
                .tempfile_in(&dir)
                .map_err(|e| cs_cli::io_failure(&e, &dir))?;
            tmp.write_all(text.as_bytes())
                .and_then(|_| tmp.as_file().sync_all())
                .map_err(|e| cs_cli::io_failure(&e, path))?;
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions())
                .unwrap_or_else(|_| std::os::unix::fs::PermissionsExt::from_mode(0o644));
            tmp.as_file()
                .set_permissions(mode)
                .map_err(|e| cs_cli::io_failure(&e, path))?;
            staged.push((path.clone(), tmp));
        }
        // (target, backup of the old file if there was one)
        let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
        let undo = |done: &[(PathBuf, Option<PathBuf>)]| {
            for (target, backup) in done.iter().rev() {
                match backup {
                    Some(b) => {
                        let _ = std::fs::rename(b, target);
                    }
                    None => {
                        let _ = std::fs::remove_file(target);
                    }
                }
            }
        };
        for (target, tmp) in staged {
            let backup = if target.exists() {
                let b = cs_cli::folder_of(&target).join(format!(
                    ".{}.csutils-backup-{}",
                    target.file_name().unwrap_or_default().to_string_lossy(),
                    std::process::id()
                ));
                if let Err(e) = std::fs::hard_link(&target, &b) {
                    undo(&done);
                    return Err(cs_cli::io_failure(&e, &target));
                }
                Some(b)
            } else {
                None
            };
            if let Err(e) = tmp.persist(&target) {
                if let Some(b) = &backup {
                    let _ = std::fs::remove_file(b);
                }
                undo(&done);
                return Err(cs_cli::io_failure(&e.error, &target));
            }
            done.push((target, backup));
        }
        if let Err(f) = commit() {
            undo(&done);
            return Err(f);
        }
        for (_, backup) in done {
            if let Some(b) = backup {
                let _ = std::fs::remove_file(b);
            }
        }
        Ok(())
    }
}

/// Import a project folder or archive into the instance; returns the record to print.
fn import(source: &str, inst_dir: &Path, allow: Allow) -> Result<Value, Failure> {
    let mut inst = Instance::open(inst_dir, true)?;
    let src = Path::new(source);
    let mut unpacked: Option<PathBuf> = None;
    let project = if source != "-" && src.is_dir() {
        std::fs::canonicalize(src).map_err(|e| cs_cli::io_failure(&e, src))?
    } else {
        let imports = inst.dir.join("imports");
        std::fs::create_dir_all(&imports).map_err(|e| cs_cli::io_failure(&e, &imports))?;
        let tmp =
            cs_format::temp::dir_in(&imports).map_err(|e| cs_cli::io_failure(&e, &imports))?;
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
        if top == tmp.path() {
            let kept = tmp.keep();
            std::fs::rename(&kept, &dest).map_err(|e| cs_cli::io_failure(&e, &dest))?;
            std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .map_err(|e| cs_cli::io_failure(&e, &dest))?;
        } else {
            std::fs::rename(&top, &dest).map_err(|e| cs_cli::io_failure(&e, &dest))?;
        }
        unpacked = Some(dest.clone());
        let inside = dest.join(project_in_top);
        std::fs::canonicalize(&inside).map_err(|e| cs_cli::io_failure(&e, &inside))?
    };
    let result = import_folder(&mut inst, &project, allow);
    if result.is_err() {
        if let Some(dir) = unpacked {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    result
}

/// A folder name for an archive's contents: its file name without `.tar…`.
fn archive_stem(source: &str) -> String {
    let name = Path::new(source)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar"]
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

fn import_folder(inst: &mut Instance, project: &Path, allow: Allow) -> Result<Value, Failure> {
    let dir_text = project.display().to_string();
    if let Some(p) = inst.registered_at(&dir_text) {
        return Err(Error::in_whole_file(format!(
            "is already registered in this instance as {}",
            p.uid
        ))
        .in_file(&dir_text)
        .into());
    }
    let checked = check(project, Some(&inst.id), allow);
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
    let now = cs_format::timestamp::now_iso();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("uid".into(), json!(uid));
        obj.insert("uid_num".into(), json!(n));
        obj.insert("title".into(), json!(title));
        obj.insert("created_at".into(), json!(now));
        obj.insert("project_dir".into(), json!(dir_text));
    }
    let mut files = vec![(project.join("project.json"), to_json_text(&doc))];
    let mut killed = Vec::new();
    for (folder, job) in &checked.jobs {
        let path = project.join(folder).join("job.json");
        let mut jd = read_json(&path)?;
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
        files.push((path, to_json_text(&jd)));
    }
    let ws_path = project.join("workspaces.json");
    let mut ws = read_json(&ws_path)?;
    if let Some(list) = ws.as_array_mut() {
        for w in list.iter_mut().filter_map(Value::as_object_mut) {
            w.insert("project_uid".into(), json!(uid));
            if w.contains_key("project_uid_num") {
                w.insert("project_uid_num".into(), json!(n));
            }
        }
    }
    files.push((ws_path, to_json_text(&ws)));
    files.push((project.join("cs.lock"), to_json_text(&lock_json(&inst.id))));
    let entry = Registered {
        uid: uid.clone(),
        dir: dir_text.clone(),
        title: title.clone(),
        imported_at: now,
        source_uid: old_uid.clone(),
    };
    // Register last: if writing the registry fails, every project file is put back.
    Changes { files }.apply(|| {
        inst.projects.push(entry);
        inst.next_project = n + 1;
        inst.save()
    })?;
    let warnings: Vec<Value> = checked
        .problems
        .iter()
        .filter(|p| !p.blocking)
        .map(|p| p.to_json())
        .collect();
    Ok(json!({
        "project": uid,
        "title": title,
        "dir": dir_text,
        "source_uid": old_uid,
        "jobs": checked.jobs.len(),
        "killed": killed,
        "warnings": warnings,
    }))
}
