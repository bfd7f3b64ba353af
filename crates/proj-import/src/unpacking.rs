//! An archive on its way to be imported: unpacked beside its place under `imports/` (or the
//! `--dest` folder) by [`cs_archive::Unpacked`], the project found in it, and the interrupted
//! import of the same archive found again.

use crate::import::{import_folder, Where};
use crate::instance::Instance;
use crate::journal::{self, Found, Journal};
use crate::{check, Choices};
use cs_archive::{LinksOut, MadeFolders, Unpacked};
use cs_cli::Failure;
use cs_format::Error;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Unpack an archive into a temporary folder in `imports` and import the project in it.
pub(crate) fn unpack_and_import(
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
pub(crate) fn unpack_root(
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
pub(crate) fn unpack_roots(inst: &Instance, unpack_in: Option<&Path>) -> Vec<PathBuf> {
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

/// How an archive is named in its import's journal: its absolute path ("-" for stdin).
pub(crate) fn archive_key(source: &str) -> String {
    if source == "-" {
        return "-".into();
    }
    std::fs::canonicalize(source)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| source.to_string())
}

/// The interrupted import of the archive `key` under one of `roots` (its project is at most one
/// folder down), if any.
pub(crate) fn interrupted_import_of(roots: &[PathBuf], key: &str) -> Option<Journal> {
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

/// An unpacked archive on its way under `imports/` (or the `--dest` folder).
pub(crate) struct Unpacking {
    /// The project folder now (in the temporary folder).
    pub(crate) now: PathBuf,
    /// The project folder once moved.
    pub(crate) project: PathBuf,
    /// The project folder's name in the archive (empty: the archive's top).
    pub(crate) project_in_archive: PathBuf,
    /// The archive, unpacked and not yet moved.
    pub(crate) unpacked: Unpacked,
    /// The archive as given, to name in messages (the folders above do not exist yet).
    pub(crate) source: String,
    /// The archive's links that lead outside it, left out (`--allow-missing`), as warnings.
    pub(crate) links_left_out: Vec<check::Problem>,
}
