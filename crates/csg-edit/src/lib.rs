//! `csg-edit`: create, show, check and edit cryoSPARC `.csg` result-group files.

use clap::{Parser, Subcommand};
use cs_cli::{Failure, Outcome, Output, OutputFile};
use cs_format::ops::uids::UidSet;
use cs_format::project::csg::{Csg, CsgGroup, CsgResult};
use cs_format::project::shown;
use cs_format::{Dataset, Error, Place};
use serde_json::{json, Map};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Create, show, check and edit cryoSPARC .csg result-group files.
#[derive(Debug, Parser)]
#[command(
    name = "csg-edit",
    version,
    about = "Create, show, check and edit cryoSPARC .csg result-group files",
    long_about = "Create, show, check and edit cryoSPARC .csg result-group files, the YAML files that \
cryoSPARC's \"Import Result Group\" reads: for each result slot of a group, the .cs metafile that \
holds it and its number of items. A metafile starting with '>' is relative to the folder holding \
the .csg. Files are written in cryoSPARC's layout (PyYAML's: sorted keys, block style).",
    after_help = "The subset workflow:\n  \
cs-cat --int64-as-string J8_particles.cs | jq -c 'select(.\"ctf/df1_A\" > 15000)' \\\n    \
| csv-to-cs --like J8_particles.cs -o subset.cs\n  \
csg-edit set J8_particles.csg --metafile subset.cs --num-items auto -o subset.csg\n  \
csg-edit check subset.csg\n\n\
Exit status: 0 on success (check: no problem found), 1 on bad input or when check finds a \
problem, 2 on bad usage."
)]
pub struct Args {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the group as one JSON object, each metafile also resolved to a path.
    Show {
        /// The .csg file.
        file: PathBuf,
    },
    /// Print every problem as one JSON-lines record (exit 1 if any; nothing when clean).
    Check {
        /// The .csg files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Build a group from .cs files: one slot per field prefix (uid excluded).
    #[command(mut_arg("output", |a| a.required(true).value_name("OUT").help("The .csg file to write \
        (\"-\": standard output)")))]
    New {
        /// -o/--output OUT and --force.
        #[command(flatten)]
        output: OutputFile,
        /// Group (output) name, e.g. particles.
        #[arg(long)]
        name: String,
        /// Group datatype, e.g. particle.
        #[arg(long = "type", value_name = "TYPE")]
        ty: String,
        /// Group title (default: the name).
        #[arg(long)]
        title: Option<String>,
        /// Group description.
        #[arg(long)]
        description: Option<String>,
        /// The .cs files (a slot found in several files is taken from the last).
        #[arg(required = true, value_name = "FILE.cs")]
        files: Vec<PathBuf>,
    },
    /// Change metafiles, item counts or the group's name, title or description.
    #[command(mut_arg("output", |a| a.value_name("OUT").help("Write to OUT instead of standard \
        output; OUT appears only when complete")))]
    Set {
        /// The .csg file.
        file: PathBuf,
        /// [SLOT=]PATH: point SLOT, and every slot that pointed at the same file, at PATH;
        /// without SLOT every slot must share one file. Repeatable.
        #[arg(long, value_name = "[SLOT=]PATH")]
        metafile: Vec<String>,
        /// N, or auto: count the rows of each slot's metafile.
        #[arg(long, value_name = "N|auto")]
        num_items: Option<String>,
        /// New group name.
        #[arg(long)]
        name: Option<String>,
        /// New group title.
        #[arg(long)]
        title: Option<String>,
        /// New group description.
        #[arg(long)]
        description: Option<String>,
        /// Replace FILE (atomically).
        #[arg(short = 'i', long, conflicts_with = "output")]
        in_place: bool,
        /// -o/--output OUT and --force.
        #[command(flatten)]
        output: OutputFile,
    },
}

/// Run `csg-edit` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    match args.command {
        None => Err(Failure::Usage(
            "a subcommand is needed: show, check, new or set (see --help)".into(),
        )),
        Some(Command::Show { file }) => show(&file),
        Some(Command::Check { files }) => check(&files),
        Some(Command::New {
            output,
            name,
            ty,
            title,
            description,
            files,
        }) => new(&output, name, ty, title, description, &files),
        Some(Command::Set {
            file,
            metafile,
            num_items,
            name,
            title,
            description,
            in_place,
            output,
        }) => {
            let edits = Edits {
                metafile,
                num_items,
                name,
                title,
                description,
            };
            set(&file, edits, in_place, &output)
        }
    }
}

/// Read and parse a `.csg` file.
fn load(path: &Path) -> Result<Csg, Error> {
    let name = shown(path);
    if path.is_dir() {
        return Err(Error::in_whole_file("is a directory").in_file(&name));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(&e, Place::File).in_file(&name))
        .map_err(cs_cli::hints::explain_csg_file(path))?;
    Csg::parse(&text)
        .map_err(|e| e.in_file(&name))
        .map_err(cs_cli::hints::explain_csg_file(path))
}

/// A .cs file or a job number among the files is a mix-up to say before any record.
fn refuse_mixups(files: &[PathBuf]) -> Outcome {
    match files.iter().find_map(|f| cs_cli::hints::csg_input_mixup(f)) {
        Some(mixup) => Err(mixup.into()),
        None => Ok(()),
    }
}

fn show(path: &Path) -> Outcome {
    let csg = load(path)?;
    let dir = cs_cli::folder_of(path);
    let mut results = Map::new();
    for (slot, r) in &csg.results {
        let resolved = Csg::resolve(&dir, &r.metafile).map_err(|what| {
            Error::new(Place::Key(format!("results.{slot}.metafile")), what).in_file(&shown(path))
        })?;
        results.insert(
            slot.clone(),
            json!({"metafile": r.metafile, "num_items": r.num_items, "type": r.ty, "path": resolved.display().to_string()}),
        );
    }
    let doc = json!({
        "file": shown(path),
        "created": csg.created,
        "group": {"description": csg.group.description, "name": csg.group.name, "title": csg.group.title, "type": csg.group.ty},
        "results": results,
        "version": csg.version,
    });
    let mut out = cs_cli::stdout();
    writeln!(out, "{doc}")?;
    out.flush()?;
    Ok(())
}

/// What `check` needs to know about one metafile.
struct MetaInfo {
    rows: u64,
    prefixes: Vec<String>,
    duplicate_uids: u64,
    first_duplicate: Option<u64>,
}

fn inspect(path: &Path) -> Result<MetaInfo, (String, String)> {
    if !path.exists() {
        return Err((
            "missing".into(),
            format!("{} does not exist", path.display()),
        ));
    }
    // A FIFO is refused before it is opened: opening one waits for a writer.
    let meta = std::fs::metadata(path).map_err(|e| {
        let what = cs_format::error::io_message(&e);
        (
            "unreadable".to_string(),
            format!("{}: {what}", path.display()),
        )
    })?;
    if let Some(what) = cs_format::container::dataset::not_regular(&meta) {
        return Err(("not_a_file".into(), format!("{} {what}", path.display())));
    }
    let ds = Dataset::open(path, &shown(path)).map_err(|e| {
        let code = if e.what.starts_with("not a .cs file") || e.what.starts_with("empty file") {
            "not_cs"
        } else if matches!(e.place, Place::File) {
            "unreadable"
        } else {
            "not_cs"
        };
        (code.to_string(), e.to_string())
    })?;
    let mut prefixes: Vec<String> = Vec::new();
    for f in &ds.schema().fields {
        if f.name != "uid" && !prefixes.iter().any(|p| p == f.prefix()) {
            prefixes.push(f.prefix().to_string());
        }
    }
    let rows = ds.rows();
    let (mut duplicate_uids, mut first_duplicate) = (0, None);
    let mut seen = UidSet::with_capacity_and_hasher(rows.min(1 << 26) as usize, Default::default());
    ds.for_each_uid(|v| {
        if !seen.insert(v) {
            duplicate_uids += 1;
            first_duplicate.get_or_insert(v);
        }
    })
    .map_err(|e| ("unreadable".to_string(), e.to_string()))?;
    Ok(MetaInfo {
        rows,
        prefixes,
        duplicate_uids,
        first_duplicate,
    })
}

/// Takes a problem of the file being checked: its slot, its code and what is wrong.
type Report<'a> = dyn FnMut(Option<&str>, &str, String) -> Outcome + 'a;

fn check(files: &[PathBuf]) -> Outcome {
    refuse_mixups(files)?;
    let mut out = cs_cli::stdout();
    let mut problems = 0u64;
    for path in files {
        let file = shown(path);
        let mut report = |slot: Option<&str>, problem: &str, detail: String| -> Outcome {
            problems += 1;
            let rec = json!({"file": file, "slot": slot, "problem": problem, "detail": detail});
            writeln!(out, "{rec}")?;
            Ok(())
        };
        check_file(path, &mut report)?;
    }
    out.flush()?;
    if problems > 0 {
        // The records are the report; exit 1 without another message.
        return Err(Failure::Quiet);
    }
    Ok(())
}

/// Report every problem of one `.csg` file, slot by slot (each metafile inspected once).
fn check_file(path: &Path, report: &mut Report) -> Outcome {
    let csg = match load(path) {
        Ok(c) => c,
        Err(e) => return report(None, "unreadable_csg", e.to_string()),
    };
    let dir = cs_cli::folder_of(path);
    let mut cache: HashMap<PathBuf, Result<MetaInfo, (String, String)>> = HashMap::new();
    for (slot, r) in &csg.results {
        if !cs_format::project::csg::result_type_fits(&csg.group.ty, &r.ty) {
            report(
                Some(slot),
                "type",
                format!(
                    "result type '{}' does not belong to group type '{}'",
                    r.ty, csg.group.ty
                ),
            )?;
        }
        let meta = match Csg::resolve(&dir, &r.metafile) {
            Ok(p) => p,
            Err(what) => {
                report(Some(slot), "bad_path", what)?;
                continue;
            }
        };
        let info = cache.entry(meta.clone()).or_insert_with(|| inspect(&meta));
        match info {
            Err((code, detail)) => report(Some(slot), code, detail.clone())?,
            Ok(info) => check_metafile(slot, r, &meta, info, report)?,
        }
    }
    Ok(())
}

/// Report where a slot's metafile `meta` disagrees with the slot: its row count, its fields,
/// its uids.
fn check_metafile(
    slot: &str,
    r: &CsgResult,
    meta: &Path,
    info: &MetaInfo,
    report: &mut Report,
) -> Outcome {
    if info.rows != r.num_items {
        report(
            Some(slot),
            "num_items",
            format!(
                "num_items is {} but {} has {} rows",
                r.num_items,
                meta.display(),
                info.rows
            ),
        )?;
    }
    if !info.prefixes.iter().any(|p| p == slot) {
        report(
            Some(slot),
            "slot_fields",
            format!(
                "{} has no '{slot}/…' fields (slots there: {})",
                meta.display(),
                info.prefixes.join(", ")
            ),
        )?;
    }
    if info.duplicate_uids > 0 {
        report(
            Some(slot),
            "duplicate_uids",
            format!(
                "{} has {} duplicated uids (first: {})",
                meta.display(),
                info.duplicate_uids,
                info.first_duplicate.unwrap_or(0)
            ),
        )?;
    }
    Ok(())
}

/// The slot dtype part of a result type: `alignments_class_N` results are `alignments3D`.
fn slot_dtype(slot: &str) -> &str {
    match slot.strip_prefix("alignments_class_") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => "alignments3D",
        _ => slot,
    }
}

/// An absolute, symlink-free form of an existing path's folder joined with its name.
fn absolute(path: &Path) -> Result<PathBuf, Error> {
    let dir = cs_cli::folder_of(path);
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| Error::io(&e, Place::File).in_file(&shown(&dir)))?;
    Ok(match path.file_name() {
        Some(n) => dir.join(n),
        None => dir,
    })
}

/// How a `.csg` in `csg_dir` should name `target`: `>relative` when inside, else absolute.
fn metafile_for(target: &Path, csg_dir: &Path) -> Result<String, Error> {
    let t = absolute(target)?;
    let d = std::fs::canonicalize(csg_dir)
        .map_err(|e| Error::io(&e, Place::File).in_file(&shown(csg_dir)))?;
    Ok(match t.strip_prefix(&d) {
        Ok(rel) => format!(">{}", rel.display()),
        Err(_) => t.display().to_string(),
    })
}

/// Write a document to `out` (a file atomically; an existing one only with `force`).
fn emit(csg: &Csg, out: &Output, force: bool) -> Outcome {
    let text = csg.to_yaml();
    out.write(force, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| Error::io(&e, Place::File))
    })
}

/// The folder a written group's relative metafile paths start from: the output file's, or
/// `otherwise` for standard output and special files.
fn folder_of_output(out: &Output, otherwise: PathBuf) -> PathBuf {
    match out {
        Output::File(path) => cs_cli::folder_of(path),
        Output::Stdout | Output::Special(_) => otherwise,
    }
}

fn new(
    output: &OutputFile,
    name: String,
    ty: String,
    title: Option<String>,
    description: Option<String>,
    files: &[PathBuf],
) -> Outcome {
    let out = output.text()?;
    let out_dir = folder_of_output(&out, PathBuf::from("."));
    let mut results = BTreeMap::new();
    for f in files {
        let ds = Dataset::open(f, &shown(f)).map_err(cs_cli::hints::explain_cs_file(f))?;
        let metafile = metafile_for(f, &out_dir)?;
        for field in &ds.schema().fields {
            if field.name == "uid" {
                continue;
            }
            let slot = field.prefix().to_string();
            let rtype = format!("{ty}.{}", slot_dtype(&slot));
            results.insert(
                slot,
                CsgResult {
                    metafile: metafile.clone(),
                    num_items: ds.rows(),
                    ty: rtype,
                    unknown: BTreeMap::new(),
                },
            );
        }
    }
    let csg = Csg {
        created: Some(cs_format::project::timestamp::now_csg()),
        group: CsgGroup {
            description,
            title: Some(title.unwrap_or_else(|| name.clone())),
            name,
            ty,
            unknown: BTreeMap::new(),
        },
        results,
        version: Some(format!("csutils-{}", env!("CARGO_PKG_VERSION"))),
        unknown: BTreeMap::new(),
    };
    emit(&csg, &out, output.force)
}

/// The changes `set` makes.
struct Edits {
    metafile: Vec<String>,
    num_items: Option<String>,
    name: Option<String>,
    title: Option<String>,
    description: Option<String>,
}

fn set(file: &Path, edits: Edits, in_place: bool, output: &OutputFile) -> Outcome {
    let fname = shown(file);
    let mut csg = load(file)?;
    if let Some(k) = csg.unknown_keys().first() {
        return Err(Error::new(
            Place::Key(k.clone()),
            "csg-edit does not know this key and would drop it on writing; edit this file by hand",
        )
        .in_file(&fname)
        .into());
    }
    let src_dir = cs_cli::folder_of(file);
    let dest = if in_place {
        Output::File(file.to_path_buf())
    } else {
        output.text()?
    };
    let dest_dir = folder_of_output(&dest, src_dir.clone());

    // Every existing metafile as a path, so that it can be re-expressed for the destination.
    let mut paths: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (slot, r) in &csg.results {
        let p =
            Csg::resolve(&src_dir, &r.metafile).map_err(|w| slot_error(slot, w).in_file(&fname))?;
        paths.insert(slot.clone(), p);
    }
    let mut changed: Vec<String> = Vec::new();
    for spec in &edits.metafile {
        let (slot, path) = metafile_spec(&csg, spec, &fname)?;
        for t in slots_to_move(&paths, slot, spec, &fname)? {
            paths.insert(t.clone(), path.clone());
            changed.push(t);
        }
    }
    let num_items = NumItems::parse(edits.num_items.as_deref())?;
    for (slot, r) in csg.results.iter_mut() {
        let moved = changed.contains(slot) || dest_dir != src_dir;
        let dest_dir = moved.then_some(dest_dir.as_path());
        update_result(slot, r, &paths[slot], dest_dir, num_items).map_err(|e| e.in_file(&fname))?;
    }
    if let Some(n) = edits.name {
        csg.group.name = n;
    }
    if let Some(t) = edits.title {
        csg.group.title = Some(t);
    }
    if let Some(d) = edits.description {
        csg.group.description = Some(d);
    }
    emit(&csg, &dest, output.force || in_place)
}

/// An error about slot `slot`'s metafile.
fn slot_error(slot: &str, what: impl Into<String>) -> Error {
    Error::new(Place::Key(format!("results.{slot}.metafile")), what)
}

/// The slot (None: every slot) and path of a `--metafile [SLOT=]PATH`. A `SLOT=` that names
/// no slot of `csg` is refused unless the whole spec is an existing path.
fn metafile_spec(csg: &Csg, spec: &str, fname: &str) -> Result<(Option<String>, PathBuf), Failure> {
    Ok(match spec.split_once('=') {
        Some((s, p)) if csg.results.contains_key(s) => (Some(s.to_string()), PathBuf::from(p)),
        Some((s, _)) if !Path::new(spec).exists() => {
            return Err(Failure::Usage(format!(
                "--metafile {spec}: no slot '{s}' in {fname} (slots: {})",
                csg.results.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        _ => (None, PathBuf::from(spec)),
    })
}

/// The slots a `--metafile` moves: `slot` and every slot that pointed at the same file; without
/// a slot, every slot, when they all share one file.
fn slots_to_move(
    paths: &BTreeMap<String, PathBuf>,
    slot: Option<String>,
    spec: &str,
    fname: &str,
) -> Result<Vec<String>, Failure> {
    let Some(s) = slot else {
        let files: std::collections::BTreeSet<&PathBuf> = paths.values().collect();
        if files.len() > 1 {
            return Err(Failure::Usage(format!(
                "--metafile {spec}: the slots of {fname} point at {} files; say which with SLOT=PATH",
                files.len()
            )));
        }
        return Ok(paths.keys().cloned().collect());
    };
    let old = &paths[&s];
    Ok(paths
        .iter()
        .filter(|(_, p)| *p == old)
        .map(|(k, _)| k.clone())
        .collect())
}

/// What `--num-items` asks.
#[derive(Debug, Clone, Copy)]
enum NumItems {
    /// Nothing: the counts stay.
    Keep,
    /// `auto`: count the rows of each slot's metafile.
    Count,
    /// This count for every slot.
    Set(u64),
}

impl NumItems {
    fn parse(arg: Option<&str>) -> Result<NumItems, Failure> {
        Ok(match arg {
            None => NumItems::Keep,
            Some("auto") => NumItems::Count,
            Some(n) => NumItems::Set(n.parse::<u64>().map_err(|_| {
                Failure::Usage(format!(
                    "--num-items takes a whole number or 'auto', not '{n}'"
                ))
            })?),
        })
    }
}

/// Point result `slot` at metafile `p` as a `.csg` in `dest_dir` names it (when given: the
/// slot moved, or the group is written to another folder), and set its item count as asked.
fn update_result(
    slot: &str,
    r: &mut CsgResult,
    p: &Path,
    dest_dir: Option<&Path>,
    num_items: NumItems,
) -> Result<(), Error> {
    if let Some(dest_dir) = dest_dir {
        if !p.is_file() {
            return Err(slot_error(slot, format!("{} is not a file", p.display())));
        }
        r.metafile = metafile_for(p, dest_dir)?;
    }
    match num_items {
        NumItems::Count => {
            let ds = Dataset::open(p, &shown(p)).map_err(|e| slot_error(slot, e.to_string()))?;
            r.num_items = ds.rows();
        }
        NumItems::Set(n) => r.num_items = n,
        NumItems::Keep => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_cryosparc_shape() {
        let t = cs_format::project::timestamp::now_csg();
        assert!(cs_format::project::csg::is_timestamp(&t), "{t}");
        assert_eq!(t.len(), 26);
    }

    #[test]
    fn class_slots_are_alignments3d() {
        assert_eq!(slot_dtype("alignments_class_12"), "alignments3D");
        assert_eq!(slot_dtype("blob"), "blob");
    }
}
