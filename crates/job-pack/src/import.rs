//! `job-pack import` and `import-group`: an export (folder or tar) or a `.csg` group becomes a
//! new job of a project. Everything is built in temporary folders inside the project and put
//! in place by renames at the end, so a failed import leaves the project as it was.

use cs_archive::{clean_relative, LinkLeftOut, LinksOut, MadeFolders, Placed, Unpacked};
use cs_cli::Failure;
use cs_format::container::writer::{rewrite_data_paths, OutputFormat};
use cs_format::ops::join::{join_on_uid, JoinMode};
use cs_format::project::csg::{Csg, CsgResult};
use cs_format::project::documents::{self, project_number, ExportedJob, ImportedOutputs, NewJob};
use cs_format::project::job::to_json_text;
use cs_format::project::workspaces::choose_workspace;
use cs_format::project::{
    is_project_dir, link_out, next_job_number, read_job, read_json, read_project_doc,
    refuse_unfinished_import, shown,
};
use cs_format::{Dataset, Error, Place};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn bad(path: &Path, what: impl Into<String>) -> Failure {
    Error::in_whole_file(what).in_file(&shown(path)).into()
}

/// One output group to import: its `.csg` and the folder that holds it.
struct GroupSource {
    csg: Csg,
    dir: PathBuf,
    csg_path: PathBuf,
    /// For an unpacked archive, the folder its data must come from: nothing outside it (not an
    /// absolute path, not the target project around it) is taken.
    within: Option<PathBuf>,
}

/// Where the export being imported came from, for messages and for placing its data.
#[derive(Default)]
struct Source {
    /// The archive it was unpacked from, in its place under `imports/jobs/`.
    unpacked: Option<Placed>,
}

impl Source {
    /// How messages name `path`: a file of an unpacked archive as `ARCHIVE: entry NAME`, any
    /// other file by its path.
    fn name(&self, path: &Path) -> String {
        self.unpacked
            .as_ref()
            .and_then(|p| p.entry_name(path))
            .unwrap_or_else(|| shown(path))
    }

    /// An I/O error on `path`, named as [`Source::name`] names it (never by the unpacked
    /// folder, which is removed when the import fails).
    fn io(&self, e: &std::io::Error, path: &Path) -> Failure {
        Error::io(e, Place::File).in_file(&self.name(path)).into()
    }

    /// `failure` with the file it names named as [`Source::name`] names it.
    fn renamed(&self, failure: Failure) -> Failure {
        match failure {
            Failure::Data(mut e) => {
                e.file = e.file.map(|f| self.name(Path::new(&f)));
                Failure::Data(e)
            }
            other => other,
        }
    }

    /// The unpacked folder (ours to hard-link from), if the export came from an archive.
    fn unpacked_dir(&self) -> Option<&Path> {
        self.unpacked.as_ref().map(Placed::dir)
    }
}

/// How an import treats the data files its groups name.
struct DataOptions<'a> {
    /// Link to the data instead of copying them.
    link: bool,
    /// Import even when data files are missing (see [`MissingPath`]).
    allow_missing: bool,
    /// Where the export came from.
    source: &'a Source,
}

/// The target project.
struct Target {
    dir: PathBuf,
    uid: String,
    uid_num: u64,
    workspace: String,
}

fn open_target(project: &Path, workspace: Option<&str>) -> Result<Target, Failure> {
    refuse_unfinished_import(project)?;
    if !is_project_dir(project) {
        if let Some(mixup) =
            cs_cli::hints::project_input_mixup(project, cs_cli::hints::ProjectWord::Alone)
        {
            return Err(mixup.into());
        }
        return Err(bad(
            project,
            "is not a project folder (it has no project.json)",
        ));
    }
    let doc = read_project_doc(project)?;
    Ok(Target {
        dir: project.to_path_buf(),
        uid: doc
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        uid_num: project_number(&doc),
        workspace: choose_workspace(project, workspace)?,
    })
}

/// Refuse a folder an import writes into (`rel` in the project) that is, or lies behind, a link
/// out of the project: the archive would be unpacked into another tree.
fn refuse_link_out(project: &Path, rel: &str) -> Result<(), Failure> {
    match link_out(project, rel)? {
        None => Ok(()),
        Some(l) => Err(bad(project, format!("{l}: nothing is written through it"))),
    }
}

/// The name an export folder has, for an archive made from inside one (`tar -C EXPORT -cf
/// x.tar .`): `<project>_<job>_<type>` from its job.json, else the archive's name without its
/// `.tar…` ending, else `export`.
fn export_name(root: &Path, src: &str) -> String {
    let plain = |t: &str| clean_relative(Path::new(t)) && !t.contains('/');
    let from_job = read_job(root).ok().filter(|job| {
        [&job.project_uid, &job.uid, &job.job_type]
            .iter()
            .all(|t| plain(t))
    });
    if let Some(job) = from_job {
        return documents::export_name(&job.project_uid, &job);
    }
    cs_archive::archive_stem(src)
        .filter(|stem| clean_relative(Path::new(stem)))
        .unwrap_or_else(|| "export".into())
}

/// The `.csg` groups of an export folder: `<prefix>/<prefix>_exported.csg`, sorted.
fn export_groups(
    export: &Path,
    within: Option<&Path>,
    from: &Source,
) -> Result<Vec<GroupSource>, Failure> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(export)
        .map_err(|e| from.io(&e, export))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut csgs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| from.io(&e, &dir))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "csg"))
            .collect();
        csgs.sort();
        for csg_path in csgs {
            let mut group = read_group(&csg_path, from)?;
            group.within = within.map(Path::to_path_buf);
            out.push(group);
        }
    }
    Ok(out)
}

/// Read a `.csg` (`from`: how messages name it).
fn read_group(csg_path: &Path, from: &Source) -> Result<GroupSource, Failure> {
    let text = std::fs::read_to_string(csg_path).map_err(|e| from.io(&e, csg_path))?;
    let csg = Csg::parse(&text).map_err(|e| e.in_file(&from.name(csg_path)))?;
    Ok(GroupSource {
        csg,
        dir: cs_cli::folder_of(csg_path),
        csg_path: csg_path.to_path_buf(),
        within: None,
    })
}

/// Where a data path named in a group's `.cs` is: `>p` beside the `.csg`; otherwise the first
/// of the `.csg`'s folder and its ancestors that holds `p` (an absolute path as it is). With
/// `within` (an unpacked archive), only folders inside it are searched and absolute paths are
/// not taken: an archive's metadata never picks up a file of this machine.
fn data_source(group_dir: &Path, within: Option<&Path>, value: &str) -> Option<PathBuf> {
    if let Some(rel) = value.strip_prefix('>') {
        let p = Path::new(rel);
        let src = group_dir.join(p);
        return (clean_relative(p) && src.is_file()).then_some(src);
    }
    let p = Path::new(value);
    if p.is_absolute() {
        if within.is_some() {
            return None;
        }
        let clean = !p.components().any(|c| c == std::path::Component::ParentDir);
        return (clean && p.is_file()).then(|| p.to_path_buf());
    }
    if !clean_relative(p) {
        return None;
    }
    group_dir
        .ancestors()
        .take_while(|a| within.is_none_or(|w| a.starts_with(w)))
        .map(|a| a.join(p))
        .find(|c| c.is_file())
}

/// What an `--allow-missing` import writes for a data path whose file is missing.
#[derive(Clone)]
enum MissingPath {
    /// A relative path (`>rel` or `rel`) becomes `J<n>/imported/<rel>`, as a found one does:
    /// a place in the new job where nothing is (the user can put the file there), never a path
    /// that could name a file the target project already has.
    IntoJob(String),
    /// An absolute path is kept: it names this machine's storage, as it did.
    Absolute,
    /// A relative path with `..` or `.`: it has no place in the new job, and kept as it was it
    /// could name a file of the target project.
    Unplaceable,
}

impl MissingPath {
    /// Where the missing data path `value` goes in job `job_uid`.
    fn of(job_uid: &str, value: &str) -> MissingPath {
        if Path::new(value).is_absolute() {
            return MissingPath::Absolute;
        }
        let rel = value.strip_prefix('>').unwrap_or(value);
        match clean_relative(Path::new(rel)) {
            true => MissingPath::IntoJob(format!("{job_uid}/imported/{rel}")),
            false => MissingPath::Unplaceable,
        }
    }
}

/// A data path whose file is missing (`at`: the file, row and field that name it, and the
/// path; `now`: what `--allow-missing` makes of it): an error, or with `--allow-missing` noted
/// for the warning at the end.
fn missing_data(
    opts: &DataOptions,
    imported: &mut Imported,
    at: Error,
    now: &MissingPath,
) -> cs_format::Result<()> {
    let refuse = |what: String| Err(Error { what, ..at.clone() });
    if !opts.allow_missing {
        return refuse(format!(
            "data file {} is missing (give --allow-missing to import anyway)",
            at.what
        ));
    }
    let first = match now {
        MissingPath::Unplaceable => {
            return refuse(format!(
                "data file {} is missing, and a relative path with '..' or '.' has no place in \
                 the new job (refused even with --allow-missing)",
                at.what
            ))
        }
        MissingPath::IntoJob(path) => format!("{at} -> {path}"),
        MissingPath::Absolute => format!("{at} (absolute: kept as it was)"),
    };
    imported.first_missing.get_or_insert(first);
    Ok(())
}

/// Put one data file at `dest`: a link to it (`--link`); a hard link when it lies in the
/// unpacked archive (ours, on the same file system: one copy of the data, not two); else a
/// copy (a folder the user gave is not ours to move).
fn place_data_file(
    src: &Path,
    dest: &Path,
    opts: &DataOptions,
    imported: &mut Imported,
) -> Result<(), Failure> {
    let abs = std::fs::canonicalize(src).map_err(|e| opts.source.io(&e, src))?;
    if opts.link {
        return std::os::unix::fs::symlink(&abs, dest).map_err(|e| cs_cli::io_failure(&e, dest));
    }
    let ours = opts
        .source
        .unpacked_dir()
        .and_then(|d| std::fs::canonicalize(d).ok())
        .is_some_and(|d| abs.starts_with(d));
    if ours && std::fs::hard_link(&abs, dest).is_ok() {
        imported.hard_linked += 1;
        return Ok(());
    }
    imported.bytes += std::fs::copy(&abs, dest).map_err(|e| opts.source.io(&e, src))?;
    Ok(())
}

/// Figures of an import, for its record.
#[derive(Default)]
struct Imported {
    groups: Vec<Value>,
    files: u64,
    bytes: u64,
    /// Data files hard-linked from the unpacked archive (not copied).
    hard_linked: u64,
    /// Data paths whose files are missing (`--allow-missing`), each once, as the export named
    /// them.
    missing: std::collections::BTreeSet<String>,
    /// The first of them, where it was named and what it became.
    first_missing: Option<String>,
}

/// Write one group into the new job folder `job_tmp` (to become `J<n>`): the joined `.cs`
/// with data paths pointing into the job, the data copied or linked under `imported/`, and
/// the job's `.csg`; its outputs are added to `outputs`.
fn import_one_group(
    g: &GroupSource,
    job_uid: &str,
    job_tmp: &Path,
    opts: &DataOptions,
    outputs: &mut ImportedOutputs,
    imported: &mut Imported,
) -> Result<(), Failure> {
    let files = group_metafiles(g, opts.source)?;
    let datasets = files
        .iter()
        .map(|p| Dataset::open(p, &opts.source.name(p)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut paths = DataPaths {
        holder: field_holders(&datasets, &files, opts.source),
        g,
        job_uid,
        opts,
        imported,
        to_copy: BTreeMap::new(),
        row: 0,
    };
    let mut edit = |fields: &[cs_format::Field], cells: &mut [Vec<u8>]| paths.row(fields, cells);
    let spool = join_on_uid(datasets, job_tmp, JoinMode::Inner, &mut edit)?;
    let rows = spool.rows();
    let cs_name = format!("{job_uid}_imported_{}.cs", g.csg.group.name);
    cs_cli::write_atomically(&job_tmp.join(&cs_name), false, |w| {
        spool.write(OutputFormat::Numpy, w)
    })?;
    place_group_data(&paths.to_copy, job_tmp, opts, imported)?;
    let csg = write_job_csg(g, job_uid, job_tmp, &cs_name, rows)?;
    let metafile = format!("{job_uid}/{cs_name}");
    outputs.add(job_uid, &csg, &metafile, rows);
    imported
        .groups
        .push(json!({"group": csg.group.name, "rows": rows, "metafile": metafile}));
    Ok(())
}

/// A group's metafiles, each once, in result order. From an archive only plain relative
/// paths are taken: an archive's metadata is read only from the archive.
fn group_metafiles(g: &GroupSource, from: &Source) -> Result<Vec<PathBuf>, Failure> {
    let mut files: Vec<PathBuf> = Vec::new();
    for (name, r) in &g.csg.results {
        let refuse = |what: String| -> Failure {
            Error::new(Place::Key(format!("results.{name}.metafile")), what)
                .in_file(&from.name(&g.csg_path))
                .into()
        };
        let p = Csg::resolve(&g.dir, &r.metafile).map_err(refuse)?;
        if g.within.is_some() && !clean_relative(Path::new(r.metafile.trim_start_matches('>'))) {
            return Err(refuse(format!(
                "'{}' is not a plain relative path: an archive's metadata is read only from \
                 the archive",
                r.metafile
            )));
        }
        if !files.contains(&p) {
            files.push(p);
        }
    }
    Ok(files)
}

/// Which file each joined field comes from (the last that has it), for messages.
fn field_holders(
    datasets: &[Dataset],
    files: &[PathBuf],
    from: &Source,
) -> BTreeMap<String, String> {
    let mut holder = BTreeMap::new();
    for (d, p) in datasets.iter().zip(files) {
        for f in &d.schema().fields {
            holder.insert(f.name.clone(), from.name(p));
        }
    }
    holder
}

/// The data paths of a group's rows, rewritten as the rows are joined: a file found is to be
/// placed under `J<n>/imported/` and its path points there; a missing one is refused, or with
/// `--allow-missing` pointed into the job all the same ([`MissingPath`]).
struct DataPaths<'a> {
    g: &'a GroupSource,
    job_uid: &'a str,
    opts: &'a DataOptions<'a>,
    imported: &'a mut Imported,
    /// Which file each joined field comes from, for messages.
    holder: BTreeMap<String, String>,
    /// The files to place, by their path under `imported/`.
    to_copy: BTreeMap<String, PathBuf>,
    row: u64,
}

impl DataPaths<'_> {
    /// Rewrite the data paths of one joined row.
    fn row(&mut self, fields: &[cs_format::Field], cells: &mut [Vec<u8>]) -> cs_format::Result<()> {
        for (i, field) in fields.iter().enumerate() {
            let mut gone = None;
            rewrite_data_paths(&fields[i..=i], &mut cells[i..=i], &mut |text| {
                self.rewrite(text, &mut gone)
            });
            if let Some((value, now)) = gone {
                let place = Place::Cell {
                    row: self.row,
                    field: field.name.clone(),
                };
                let file = self.holder.get(&field.name).map_or("", String::as_str);
                let at = Error::new(place, value).in_file(file);
                missing_data(self.opts, self.imported, at, &now)?;
            }
        }
        self.row += 1;
        Ok(())
    }

    /// The new value of one data path (None: kept as it is); the first missing one of a cell
    /// is noted in `gone`.
    fn rewrite(&mut self, text: &str, gone: &mut Option<(String, MissingPath)>) -> Option<String> {
        if text.is_empty() {
            return None;
        }
        let Some(src) = data_source(&self.g.dir, self.g.within.as_deref(), text) else {
            let now = MissingPath::of(self.job_uid, text);
            gone.get_or_insert_with(|| (text.to_string(), now.clone()));
            self.imported.missing.insert(text.to_string());
            return match now {
                MissingPath::IntoJob(path) if self.opts.allow_missing => Some(path),
                _ => None,
            };
        };
        let rel = text.trim_start_matches('>').trim_start_matches('/');
        self.to_copy.entry(rel.to_string()).or_insert(src);
        Some(format!("{}/imported/{rel}", self.job_uid))
    }
}

/// Put the data files of a group under `J<n>/imported/` (one an earlier group named is there
/// already).
fn place_group_data(
    to_copy: &BTreeMap<String, PathBuf>,
    job_tmp: &Path,
    opts: &DataOptions,
    imported: &mut Imported,
) -> Result<(), Failure> {
    for (rel, src) in to_copy {
        cs_cli::signals::stop_if_signalled()?;
        let dest = job_tmp.join("imported").join(rel);
        if std::fs::symlink_metadata(&dest).is_ok() {
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| cs_cli::io_failure(&e, parent))?;
        }
        place_data_file(src, &dest, opts, imported)?;
        imported.files += 1;
    }
    Ok(())
}

/// Write the new job's `.csg` for a group, `J<n>_<group>.csg`: every result in the one `.cs`
/// `cs_name` of `rows` rows, created now.
fn write_job_csg(
    g: &GroupSource,
    job_uid: &str,
    job_tmp: &Path,
    cs_name: &str,
    rows: u64,
) -> Result<Csg, Failure> {
    let mut csg = g.csg.clone();
    csg.created = Some(cs_format::project::timestamp::now_csg());
    for r in csg.results.values_mut() {
        *r = CsgResult {
            metafile: format!(">{cs_name}"),
            num_items: rows,
            ty: r.ty.clone(),
            unknown: r.unknown.clone(),
        };
    }
    let csg_out = job_tmp.join(format!("{job_uid}_{}.csg", csg.group.name));
    std::fs::write(&csg_out, csg.to_yaml()).map_err(|e| cs_cli::io_failure(&e, &csg_out))?;
    Ok(csg)
}

/// Create job `J<n>` in the target project from `groups`, starting from `base` (a job
/// document, or an empty object), then put it in place.
fn create_job(
    target: &Target,
    base: Map<String, Value>,
    job_type: &str,
    groups: &[GroupSource],
    carried: &[PathBuf],
    opts: &DataOptions,
    source: Value,
) -> Result<Value, Failure> {
    let n = next_job_number(&target.dir)?;
    let uid = format!("J{n}");
    let tmp =
        cs_format::temp::dir_in(&target.dir).map_err(|e| cs_cli::io_failure(&e, &target.dir))?;
    let mut imported = Imported::default();
    let mut outputs = ImportedOutputs::default();
    for g in groups {
        cs_cli::signals::stop_if_signalled()?;
        import_one_group(g, &uid, tmp.path(), opts, &mut outputs, &mut imported)?;
    }
    copy_carried(carried, tmp.path(), opts.source)?;
    let now = cs_format::project::timestamp::now_iso();
    let job = NewJob {
        uid: &uid,
        number: n,
        project_uid: &target.uid,
        project_number: target.uid_num,
        workspace: &target.workspace,
        job_type,
        imported_from: &source,
        now: &now,
    };
    let jj = tmp.path().join("job.json");
    let text = to_json_text(&job.document(base, &outputs));
    std::fs::write(&jj, text).map_err(|e| cs_cli::io_failure(&e, &jj))?;
    put_job_in_place(tmp, &target.dir.join(&uid))?;
    let absolute = imported
        .missing
        .iter()
        .filter(|m| Path::new(m).is_absolute())
        .count();
    let into_job = imported.missing.len() - absolute;
    warn_missing(&uid, &imported, into_job, absolute);
    Ok(json!({
        "job": uid, "project": target.uid, "type": job_type, "workspace": target.workspace,
        "from": source, "groups": imported.groups, "data_files": imported.files,
        "bytes_copied": imported.bytes, "hard_linked": imported.hard_linked,
        "missing_data_files": imported.missing.len(),
        "missing_into_job": into_job, "missing_absolute_kept": absolute,
        "linked": opts.link,
    }))
}

/// Copy the files and folders that travel with a job (`events.bson`, `gridfs_data/`) into the
/// new job folder, under their names.
fn copy_carried(carried: &[PathBuf], job_tmp: &Path, from: &Source) -> Result<(), Failure> {
    for src in carried {
        let Some(name) = src.file_name() else {
            continue;
        };
        if src.is_dir() {
            crate::copy_tree(src, &job_tmp.join(name), "", &mut |_, _| {})
                .map_err(|f| from.renamed(f))?;
        } else {
            std::fs::copy(src, job_tmp.join(name)).map_err(|e| from.io(&e, src))?;
        }
    }
    Ok(())
}

/// Rename the new job folder (readable, 0755) to `J<n>`, unless something took that name
/// meanwhile.
fn put_job_in_place(tmp: cs_format::temp::TempDir, final_dir: &Path) -> Result<(), Failure> {
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .map_err(|e| cs_cli::io_failure(&e, tmp.path()))?;
    if std::fs::symlink_metadata(final_dir).is_ok() {
        return Err(bad(final_dir, "appeared while importing; nothing imported"));
    }
    tmp.rename_to(final_dir)
        .map_err(|e| cs_cli::io_failure(&e, final_dir))
}

/// One warning for the data files an `--allow-missing` import did not find: how many, where
/// their paths now point (`into_job` of them into `J<n>/imported/`, `absolute` kept), and the
/// first of them.
fn warn_missing(job_uid: &str, imported: &Imported, into_job: usize, absolute: usize) {
    let Some(first) = &imported.first_missing else {
        return;
    };
    let mut text = format!(
        "warning: {} data file(s) named in the metadata are missing (--allow-missing)",
        imported.missing.len()
    );
    if into_job > 0 {
        text += &format!(
            "; {into_job} kept as {job_uid}/imported/<path>, where nothing is: put the files there \
             to complete the job"
        );
    }
    if absolute > 0 {
        text += &format!("; {absolute} absolute path(s) kept as they were");
    }
    text += &format!("; the first: {first}");
    cs_cli::report("job-pack", &text);
}

/// `job-pack import SRC --into PROJECT`.
pub fn import_export(
    src: &str,
    project: &Path,
    workspace: Option<&str>,
    link: bool,
    allow_missing: bool,
) -> Result<Value, Failure> {
    let target = open_target(project, workspace)?;
    // A signal stops the import between files; what it placed is removed, then the process exits.
    let _deferred = cs_cli::signals::Deferred::start();
    if src != "-" && Path::new(src).is_dir() {
        let from = Source::default();
        let opts = DataOptions {
            link,
            allow_missing,
            source: &from,
        };
        return import_export_folder(&target, Path::new(src), 0, &opts);
    }
    refuse_link_out(&target.dir, "imports/jobs")?;
    let imports = target.dir.join("imports/jobs");
    let made = MadeFolders::make(&imports)?;
    let result = import_archive(src, &imports, &target, link, allow_missing);
    if result.is_err() {
        made.remove_if_empty();
    }
    result
}

/// Unpack the archive `src` in a temporary folder in `imports` (the project's `imports/jobs/`),
/// keep it there as `imports/jobs/<name>` (a `--link` import points into it) and import the
/// export in it; a failed import removes it again.
fn import_archive(
    src: &str,
    imports: &Path,
    target: &Target,
    link: bool,
    allow_missing: bool,
) -> Result<Value, Failure> {
    let links_out = LinksOut::left_out_if(allow_missing);
    let name_from_inside = |contents: &Path| export_name(contents, src);
    let stop = cs_cli::signals::stop_if_signalled;
    let unpacked = Unpacked::unpack(src, imports, links_out, name_from_inside, stop)?;
    warn_links_left_out(src, unpacked.links_left_out());
    let left_out = unpacked.links_left_out().len();
    let placed = unpacked.place()?;
    let export_dir = placed.dir().to_path_buf();
    let from = Source {
        unpacked: Some(placed),
    };
    let opts = DataOptions {
        link,
        allow_missing,
        source: &from,
    };
    let imported = import_export_folder(target, &export_dir, left_out, &opts);
    if imported.is_err() {
        let _ = std::fs::remove_dir_all(&export_dir);
    }
    imported
}

/// Import the export folder `export_dir` (the user's, or an unpacked archive's, of which
/// `links_left_out` links were left out): its `job.json`, its groups and the files that
/// travel with the job.
fn import_export_folder(
    target: &Target,
    export_dir: &Path,
    links_left_out: usize,
    opts: &DataOptions,
) -> Result<Value, Failure> {
    let from = opts.source;
    let src = match &from.unpacked {
        Some(placed) => placed.source().to_string(),
        None => shown(export_dir),
    };
    let jj = export_dir.join("job.json");
    if !jj.is_file() {
        return Err(not_a_job_export(export_dir, from));
    }
    let doc = read_json(&jj).map_err(|e| {
        Failure::from(cs_format::Error {
            file: Some(from.name(&jj)),
            ..e
        })
    })?;
    let exported = ExportedJob::from_value(doc).map_err(|e| e.in_file(&from.name(&jj)))?;
    let (old_uid, old_project) = (exported.text("uid"), exported.text("project_uid"));
    let groups = export_groups(export_dir, from.unpacked_dir(), from)?;
    let carried: Vec<PathBuf> = ["events.bson", "gridfs_data"]
        .iter()
        .map(|n| export_dir.join(n))
        .filter(|p| p.exists())
        .collect();
    let source = json!({"source": src, "job": old_uid, "project": old_project});
    let ExportedJob { doc, job_type } = exported;
    let mut record = create_job(target, doc, &job_type, &groups, &carried, opts, source)?;
    record["links_left_out"] = json!(links_left_out);
    Ok(record)
}

/// Refuse an export without a `job.json`, naming the archive (its unpacked folder is removed
/// again) or the folder; a `.csg` at its top (a group export) is pointed to `import-group`.
fn not_a_job_export(export_dir: &Path, from: &Source) -> Failure {
    let mut csgs: Vec<PathBuf> = std::fs::read_dir(export_dir)
        .map(|l| l.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    csgs.retain(|p| p.extension().is_some_and(|x| x == "csg") && p.is_file());
    csgs.sort();
    let what = "is not a job export (it has no job.json)";
    let (name, what) = match (&from.unpacked, csgs.first()) {
        (Some(placed), Some(csg)) => {
            let entry = placed.name_in_archive(csg).unwrap_or_default();
            let hint = format!(
                "a group export? unpack it and import its .csg (entry {}) with job-pack \
                 import-group",
                entry.display()
            );
            (placed.source().to_string(), format!("{what}; {hint}"))
        }
        (Some(placed), None) => (placed.source().to_string(), what.to_string()),
        (None, Some(csg)) => {
            let hint = format!(
                "a group export? import its .csg with job-pack import-group {}",
                shown(csg)
            );
            (shown(export_dir), format!("{what}; {hint}"))
        }
        (None, None) => (shown(export_dir), what.to_string()),
    };
    Error::in_whole_file(what).in_file(&name).into()
}

/// One warning for the links of an archive that lead outside it and were left out
/// (`--allow-missing`): the link when there is one, else the count and the first.
fn warn_links_left_out(src: &str, left_out: &[LinkLeftOut]) {
    let Some(first) = left_out.first() else {
        return;
    };
    let link = format!("entry {} -> {}", first.shown, first.target.display());
    let text = match left_out.len() {
        1 => format!("{link}: leads outside the archive; not unpacked (--allow-missing)"),
        n => format!(
            "{n} links lead outside the archive; not unpacked (--allow-missing); the first: {link}"
        ),
    };
    cs_cli::report("job-pack", &format!("warning: {src}: {text}"));
}

/// `job-pack import-group FILE.csg --into PROJECT`.
pub fn import_group(
    csg_path: &Path,
    project: &Path,
    workspace: Option<&str>,
    link: bool,
    allow_missing: bool,
) -> Result<Value, Failure> {
    let target = open_target(project, workspace)?;
    let _deferred = cs_cli::signals::Deferred::start();
    let group = read_group(csg_path, &Source::default())?;
    let base = Map::new();
    let source = json!({"source": shown(csg_path), "group": group.csg.group.name});
    create_job(
        &target,
        base,
        "import_result_group",
        std::slice::from_ref(&group),
        &[],
        &DataOptions {
            link,
            allow_missing,
            source: &Source::default(),
        },
        source,
    )
}
