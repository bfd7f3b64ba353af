//! An import of a project: where it is (a folder imported in place, or an archive unpacked on
//! its way under `imports/`: [`crate::unpacking`]), its plan ([`crate::plan`]) written to the
//! journal, then the commit — register, write every file, remove the journal — or, on a
//! failure or a signal, the undo.

use crate::instance::{Instance, Registered};
use crate::journal::{self, Found, Journal};
use crate::plan::{plan_import, Names};
use crate::unpacking::{
    archive_key, interrupted_import_of, unpack_and_import, unpack_root, unpack_roots, Unpacking,
};
use crate::{check, fail_point, in_progress, Choices};
use cs_cli::Failure;
use cs_format::project::shown;
use cs_format::Error;
use serde_json::Value;
use std::path::Path;

/// Import a project folder or archive (unpacked in `unpack_in`, else `imports/`) into the
/// instance; returns the record to print.
pub(crate) fn import(
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

/// The refusal of a project this instance already holds.
pub(crate) fn already_imported(named: &str, held: &Registered) -> Failure {
    Error::in_whole_file(format!(
        "is already imported as {} at {}; give --force to import it again as a new project",
        held.uid, held.dir
    ))
    .in_file(named)
    .into()
}

/// Where the project to import is.
pub(crate) enum Where<'a> {
    /// A folder imported where it is.
    InPlace(&'a Path),
    /// An archive's contents, unpacked in a temporary folder and moved under `imports/` once
    /// the journal is in it.
    Unpacked(Box<Unpacking>),
}

/// Import a project: plan every change, write the journal, register, rewrite the files,
/// remove the journal. A failure or a signal on the way undoes what was done.
pub(crate) fn import_folder(
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
pub(crate) fn undo(inst: &mut Instance, journal: &Journal) -> Result<(), Failure> {
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
