//! `job-pack`: export cryoSPARC jobs and result groups into consolidated folders, archive them,
//! import them into a project, and print event logs.

mod archive;
mod export;
mod import;

use clap::{Parser, Subcommand};
use cs_cli::{Failure, Outcome, OutputFile, Progress};
use cs_format::project::shown;
use cs_format::{Error, Place};
use std::io::Write;
use std::path::PathBuf;

/// Export, archive and import cryoSPARC jobs and result groups; print event logs.
#[derive(Debug, Parser)]
#[command(
    name = "job-pack",
    version,
    about = "Export, archive and import cryoSPARC jobs and result groups; print event logs",
    long_about = "Export a job (or one output group) into the project's exports/ folder as \
cryoSPARC's Export Job and Export group lay it out; tar such a folder, a job or a project; import \
an export (folder or tar) into a project as a new job; import a .csg result group; print a job's \
event log as JSON-lines.",
    after_help = "Examples:\n  job-pack export CS-t20s-demo/J8\n  job-pack export --group particles CS-t20s-demo/J8\n  \
job-pack tar CS-t20s-demo/exports/jobs/P3_J8_homo_refine_new -o J8.tar.zst\n  \
job-pack import J8.tar.zst --into /data/other-project\n  job-pack events CS-t20s-demo/J8 | jq -r 'select(.type == \"error\") | .text'\n\n\
Exit status: 0 on success, 1 on bad data or an I/O error (nothing half-written is left), 2 on bad usage."
)]
pub struct Args {
    /// The subcommand.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Consolidate a job (or one output group) into PROJECT/exports/; prints what it wrote.
    ///
    /// A data file that is not there (a link whose target is missing) is named on stderr and
    /// left out; an active job is exported with a warning; an earlier export is replaced only
    /// with --force; a project whose proj-import is not finished is refused.
    Export {
        /// The job folder (inside a project folder).
        job_dir: PathBuf,
        /// Export only this output group, into exports/groups/.
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// Replace an earlier export of the job (or group).
        #[arg(long)]
        force: bool,
    },
    /// Write a tar of an export folder, a job or a project (links dereferenced unless told).
    ///
    /// A link to / or to a folder that holds DIR is not followed (a warning names it); a link
    /// whose target is missing is stored as a link, with a warning (--strict: refused before
    /// anything is written); an archive written inside DIR leaves itself (and its temporary
    /// file) out.
    #[command(mut_arg("output", |a| a.help("The archive file (default: standard output, refused \
        when it is a terminal); .tar.gz / .tar.zst compress; a device or FIFO is written in place")))]
    Tar {
        /// The folder to archive.
        dir: PathBuf,
        /// -o/--output FILE: the archive (default: standard output, refused when it is a
        /// terminal); .tar.gz / .tar.zst compress. --force.
        #[command(flatten)]
        output: OutputFile,
        /// Store symlinks as links (and list on stderr those whose targets stay behind).
        #[arg(long)]
        no_dereference: bool,
        /// gzip the archive.
        #[arg(long, conflicts_with = "zstd")]
        gzip: bool,
        /// Compress the archive with Zstandard.
        #[arg(long)]
        zstd: bool,
        /// Refuse (before writing anything) when a link's target is missing; without it such a
        /// link is stored as the link it is, with a warning.
        #[arg(long)]
        strict: bool,
    },
    /// Import an export (folder, tar file or "-") into a project as a new job.
    ///
    /// A tar is unpacked into PROJECT/imports/jobs/ and kept there; the job's data files are
    /// hard links to the unpacked ones (one copy on disk). From a folder they are copied. A
    /// PROJECT whose proj-import is not finished is refused.
    Import {
        /// An export folder, a tar (.tar, .tar.gz, .tar.zst) or "-" for a tar on standard input.
        src: String,
        /// The project folder to import into.
        #[arg(long, value_name = "PROJECT")]
        into: PathBuf,
        /// Workspace the new job joins, listed in workspaces.json (default: the project's
        /// first; a project without workspaces.json has only W1).
        #[arg(long, value_name = "W")]
        workspace: Option<String>,
        /// Link the data files (by absolute path) instead of copying or hard-linking them.
        #[arg(long)]
        link: bool,
        /// Import even when data files the metadata names are missing: a relative path then
        /// names J<n>/imported/<path>, where nothing is (put the file there to complete the
        /// job), an absolute one is kept; a warning gives the count and the first. A link in
        /// the archive that leads outside it is left out, with a warning.
        #[arg(long)]
        allow_missing: bool,
    },
    /// "Import Result Group": a new import_result_group job holding a .csg group.
    ImportGroup {
        /// The .csg file.
        csg: PathBuf,
        /// The project folder to import into.
        #[arg(long, value_name = "PROJECT")]
        into: PathBuf,
        /// Workspace the new job joins, listed in workspaces.json (default: the project's
        /// first; a project without workspaces.json has only W1).
        #[arg(long, value_name = "W")]
        workspace: Option<String>,
        /// Link the data files instead of copying them.
        #[arg(long)]
        link: bool,
        /// Import even when data files the metadata names are missing: a relative path then
        /// names J<n>/imported/<path>, where nothing is (put the file there to complete the
        /// job), an absolute one is kept; a warning gives the count and the first.
        #[arg(long)]
        allow_missing: bool,
    },
    /// Print a job's event log (events.bson) as JSON-lines (relaxed extended JSON).
    Events {
        /// A job folder or an events.bson file.
        path: PathBuf,
    },
}

/// Run `job-pack` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let Some(command) = args.command else {
        return Err(Failure::Usage(
            "give a subcommand: export, tar, import, import-group or events (see --help)".into(),
        ));
    };
    match command {
        Command::Export {
            job_dir,
            group,
            force,
        } => {
            let place = export::locate(&job_dir)?;
            let mut records = Vec::new();
            match group {
                Some(g) => export::export_one_group(&place, &g, force, &mut records)?,
                None => export::export_job(&place, force, &mut records)?,
            };
            print_records(&records)
        }
        Command::Tar {
            dir,
            output,
            no_dereference,
            gzip,
            zstd,
            strict,
        } => tar(
            dir,
            output.output,
            TarOptions {
                dereference: !no_dereference,
                gzip,
                zstd,
                force: output.force,
                strict,
            },
        ),
        Command::Import {
            src,
            into,
            workspace,
            link,
            allow_missing,
        } => {
            let record =
                import::import_export(&src, &into, workspace.as_deref(), link, allow_missing)?;
            print_records(&[record])
        }
        Command::ImportGroup {
            csg,
            into,
            workspace,
            link,
            allow_missing,
        } => {
            let record =
                import::import_group(&csg, &into, workspace.as_deref(), link, allow_missing)?;
            print_records(&[record])
        }
        Command::Events { path } => events(path),
    }
}

/// Copy a folder's regular files (following links), recursively, in name order; `copied` hears
/// of each file written (its path, and `rel/…` its name under `rel`). A link whose target is
/// missing is named on stderr and left out.
pub(crate) fn copy_tree(
    from: &std::path::Path,
    to: &std::path::Path,
    rel: &str,
    copied: &mut dyn FnMut(&std::path::Path, &str),
) -> Result<(), Failure> {
    std::fs::create_dir_all(to).map_err(|e| cs_cli::io_failure(&e, to))?;
    let mut names = Vec::new();
    for e in std::fs::read_dir(from).map_err(|e| cs_cli::io_failure(&e, from))? {
        names.push(e.map_err(|e| cs_cli::io_failure(&e, from))?.file_name());
    }
    names.sort();
    for name in names {
        let src = from.join(&name);
        let dst = to.join(&name);
        let child = format!("{rel}/{}", name.to_string_lossy());
        let md = match std::fs::metadata(&src) {
            Ok(md) => md,
            Err(_) if archive::dangling(&src) => {
                export::warn_not_exported(&src);
                continue;
            }
            Err(e) => return Err(cs_cli::io_failure(&e, &src)),
        };
        if md.is_dir() {
            copy_tree(&src, &dst, &child, copied)?;
        } else if md.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| cs_cli::io_failure(&e, &src))?;
            copied(&dst, &child);
        }
    }
    Ok(())
}

fn print_records(records: &[serde_json::Value]) -> Outcome {
    let mut out = cs_cli::stdout();
    for r in records {
        writeln!(out, "{r}")?;
    }
    out.flush()?;
    Ok(())
}

fn events(path: PathBuf) -> Outcome {
    let file = if path.is_dir() {
        path.join("events.bson")
    } else {
        path
    };
    let name = shown(&file);
    let f = std::fs::File::open(&file).map_err(|e| Error::io(&e, Place::File).in_file(&name))?;
    let mut out = cs_cli::stdout();
    cs_format::project::events::for_each_event(std::io::BufReader::new(f), |v| {
        writeln!(out, "{v}").map_err(|e| Error::io(&e, Place::File))
    })
    .map_err(|e| e.in_file(&name))?;
    out.flush()?;
    Ok(())
}

/// A failure inside an output writer, as the error the writer returns (a broken pipe stays one).
fn into_error(f: Failure) -> Error {
    match f {
        Failure::Data(e) => e,
        Failure::BrokenPipe => {
            let mut e = Error::in_whole_file("broken pipe");
            e.broken_pipe = true;
            e
        }
        Failure::Usage(what) => Error::in_whole_file(what),
        Failure::Quiet => Error::in_whole_file("archive failed"),
    }
}

/// The switches of `job-pack tar`.
struct TarOptions {
    dereference: bool,
    gzip: bool,
    zstd: bool,
    force: bool,
    strict: bool,
}

fn tar(dir: PathBuf, output: Option<String>, opts: TarOptions) -> Outcome {
    let TarOptions {
        dereference,
        gzip,
        zstd,
        force,
        strict,
    } = opts;
    if !dir.is_dir() {
        return Err(Error::in_whole_file("is not a folder")
            .in_file(&shown(&dir))
            .into());
    }
    let out_name = output.unwrap_or_else(|| "-".into());
    let compression = if gzip {
        archive::Compression::Gzip
    } else if zstd {
        archive::Compression::Zstd
    } else {
        archive::Compression::from_name(&out_name)
    };
    let target = cs_cli::Output::binary(&out_name, force)?;
    if strict {
        if let Some((link, to)) = archive::first_dangling(&dir, dereference) {
            return Err(Error::in_whole_file(format!(
                "a link to {}, which is missing; nothing written (--strict)",
                to.display()
            ))
            .in_file(&shown(&link))
            .into());
        }
    }
    let own = archive::OwnFiles::before(&target);
    let progress = Progress::start("job-pack tar", "bytes");
    let mut report = None;
    target.write(force, |w| {
        let exclude = own.now();
        let out = archive::compressor(compression, Box::new(w)).map_err(into_error)?;
        let written = archive::write_tar(&dir, dereference, &exclude, out, &progress);
        report = Some(written.map_err(into_error)?);
        Ok(())
    })?;
    let report = report.unwrap_or_default();
    drop(progress);
    tell(&report);
    if !report.skipped.is_empty() {
        return Err(Failure::Quiet);
    }
    Ok(())
}

/// Tell on stderr what a tar run left out or could not store.
fn tell(report: &archive::TarReport) {
    for (link, target) in &report.dangling {
        cs_cli::report(
            "job-pack",
            &format!("warning: {link} -> {target}: the link's target is missing; stored as a link"),
        );
    }
    for (link, target) in &report.left_behind {
        cs_cli::report(
            "job-pack",
            &format!("warning: {link} -> {target}: the target is not in the archive"),
        );
    }
    for (link, target) in &report.not_followed {
        cs_cli::report(
            "job-pack",
            &format!(
                "warning: {link} -> {target}: a link to / or to a folder that holds the archived folder; not followed"
            ),
        );
    }
    for path in &report.left_out {
        cs_cli::report(
            "job-pack",
            &format!("{path}: the archive being written; not stored"),
        );
    }
    for (path, why) in &report.skipped {
        cs_cli::report("job-pack", &format!("{path}: {why}"));
    }
}
