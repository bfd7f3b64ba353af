//! `cs-to-star`: particles (a `.cs` file or a job's output, with passthrough files) as a RELION
//! STAR file, with pyem's `csparc2star` field map and options (FORMATS.md §13).

mod plan;

use clap::Parser;
use cs_cli::{Failure, GroupChoice, InputPath, Outcome};
use cs_format::ops::join::{join_to_dataset, JoinMode};
use cs_format::text::convert::ChunkConverter;
use cs_format::{Dataset, Error, Projection};
use plan::{Column, MapOptions, Plan};
use std::collections::BTreeMap;
use std::io::Write;

/// Write cryoSPARC particles as a RELION STAR file.
#[derive(Debug, Parser)]
#[command(
    name = "cs-to-star",
    version,
    about = "Write cryoSPARC particles (a .cs file or a job's output) as a RELION STAR file, as pyem's csparc2star does",
    long_about = "Write particles as a RELION 3.1 STAR file (data_optics and data_particles; with \
--relion2 one RELION 3.0 data_images table) on standard output or into -o FILE, with pyem's csparc2star field map and \
option names (FORMATS.md §13).\n\n\
Passthrough files (PASSTHROUGH.cs...) hold further fields of the same particles: they are joined on \
uid with pyem's rule (the main file's particles, in its order, that every passthrough file has; the \
main file's value where several files have a field).\n\n\
Conventions: rlnImageName is IDX@PATH with the 1-based image index (blob/idx + 1, six digits) and a \
leading '>' stripped; coordinates are round(frac x size) (half to even) with Y flipped (1 - y) as \
pyem does unless --inverty; angles are degrees: alignments3D/pose (a rotation vector) becomes \
RELION's rotation matrix (the transpose of the vector's Rodrigues matrix) and then RELION's ZYZ rot, \
tilt, psi; alignments2D/pose becomes rlnAnglePsi; shifts become rlnOriginX/YAngst (pixels x the \
alignment's own psize_A); split, class and exposure group become 1-based rlnRandomSubset, \
rlnClassNumber and rlnOpticsGroup (rlnRandomSubset is left out when every particle is in one half, \
as pyem does). Multi-class outputs (alignments_class_N/..., alignments3D_multi/...) give each \
particle the class with the largest class_posterior. Beam tilt (ctf/tilt_A, mrad) and anisotropic \
magnification (ctf/anisomag) go to the optics table, from the first particle of each group. \
Rows keep the input's order (pyem sorts them by image name).\n\n\
Fields with no STAR column are named once on stderr, grouped by slot, never dropped silently. A \
file name with a quote or a control character cannot be written so that RELION reads it back: it \
is refused (exit 1, nothing written).",
    after_help = "Examples:\n  cs-to-star J8/J8_004_particles.cs > particles.star\n  \
cs-to-star J8/J8_004_particles.cs J8/J8_passthrough_particles.cs > particles.star\n  \
cs-to-star J8 --group particles --class 2 --strip-uid > class2.star
  \
cs-to-star J8 --group particles -o particles.star\n\n\
Exit status: 0 on success, 1 on bad data or an I/O error, 2 on bad usage."
)]
pub struct Args {
    /// The .cs file or job folder ("-": a .cs on standard input).
    #[arg(value_name = "FILE", default_value = "-")]
    pub file: String,

    /// Passthrough .cs files of the same particles, joined on uid (pyem's rule).
    #[arg(value_name = "PASSTHROUGH")]
    pub passthrough: Vec<String>,

    /// --group/--group-version: read a job folder's output group.
    #[command(flatten)]
    pub group: GroupChoice,

    /// -o/--output and --force: write to a file.
    #[command(flatten)]
    pub output: cs_cli::OutputFile,

    /// Keep only particles of this class (1-based, as in rlnClassNumber); repeatable.
    #[arg(long = "class", value_name = "N")]
    pub class: Vec<u64>,

    /// Leave out particles whose assigned class has a smaller class_posterior (pyem's --minphic).
    #[arg(long = "minphic", value_name = "P", default_value_t = 0.0)]
    pub minphic: f64,

    /// No effect: swapping X and Y (X x micrograph_shape[1]) is the default, as in pyem.
    #[arg(long)]
    pub swapxy: bool,

    /// Do not swap: X x micrograph_shape[0], Y x micrograph_shape[1].
    #[arg(long)]
    pub noswapxy: bool,

    /// Invert the X coordinate (1 - x).
    #[arg(long)]
    pub invertx: bool,

    /// Keep cryoSPARC's Y coordinate (pyem flips Y by default; --inverty turns the flip off).
    #[arg(long, visible_alias = "no-flip-y")]
    pub inverty: bool,

    /// Strip cryoSPARC's 21-digit uid prefixes from file names: all, or the first N (--strip-uid=N).
    #[arg(long = "strip-uid", value_name = "N", num_args = 0..=1, require_equals = true, default_missing_value = "all")]
    pub strip_uid: Option<String>,

    /// Replace the folder of the micrograph names with DIR.
    #[arg(long = "micrograph-path", value_name = "DIR")]
    pub micrograph_path: Option<String>,

    /// Replace the folder of the particle stacks in rlnImageName with DIR.
    #[arg(long = "stack-path", value_name = "DIR")]
    pub stack_path: Option<String>,

    /// RELION 3.0 layout: one data_images table, origins in pixels, no optics table.
    #[arg(long = "relion2", visible_alias = "r2")]
    pub relion2: bool,
}

impl Args {
    fn map_options(&self) -> Result<MapOptions, Failure> {
        let strip_uid = match self.strip_uid.as_deref() {
            None => None,
            Some("all") => Some(None),
            Some(n) => Some(Some(n.parse::<usize>().map_err(|_| {
                Failure::Usage(format!(
                    "--strip-uid={n}: give a whole number of uid prefixes"
                ))
            })?)),
        };
        if !(0.0..=1.0).contains(&self.minphic) {
            return Err(Failure::Usage(format!(
                "--minphic {}: a posterior is between 0 and 1",
                self.minphic
            )));
        }
        Ok(MapOptions {
            swap_xy: !self.noswapxy,
            invert_x: self.invertx,
            invert_y: !self.inverty,
            strip_uid,
            micrograph_path: self.micrograph_path.clone(),
            stack_path: self.stack_path.clone(),
            relion2: self.relion2,
            classes: self.class.clone(),
            min_posterior: self.minphic,
        })
    }
}

/// The particles: the main input joined with its passthrough files.
fn open_particles(args: &Args) -> Result<Dataset, Failure> {
    let input = InputPath::from_arg(&args.file);
    let main = input
        .open_rereadable(&args.group)
        .map_err(cs_cli::hints::explain_cs_input(&input))?;
    if args.passthrough.is_empty() {
        return Ok(main);
    }
    let name = main.name().to_string();
    let main_rows = main.rows();
    let passthrough_names = args.passthrough.join(", ");
    let mut datasets = vec![main];
    for p in &args.passthrough {
        if p == "-" {
            return Err(Failure::Usage(
                "standard input can be the main file only, not a passthrough file".into(),
            ));
        }
        if p.parse::<usize>().is_ok() && !std::path::Path::new(p).exists() {
            return Err(Failure::Usage(format!(
                "no passthrough file {p}: to strip {p} uid prefixes write --strip-uid={p} (pyem's --strip-uid {p})"
            )));
        }
        let input = InputPath::from_arg(p);
        let passthrough = input
            .open_with(&GroupChoice::default())
            .map_err(cs_cli::hints::explain_cs_input(&input))?;
        datasets.push(passthrough);
    }
    let joined = join_to_dataset(
        datasets,
        JoinMode::Passthrough,
        &std::env::temp_dir(),
        &format!("{name} (with passthrough files)"),
    )?;
    if joined.rows() < main_rows {
        cs_cli::report(
            "cs-to-star",
            &format!(
                "{name}: {} of {main_rows} particles are missing from the passthrough files ({passthrough_names}) and are left out (pyem's rule)",
                main_rows - joined.rows()
            ),
        );
    }
    Ok(joined)
}

/// What the first pass over the particles finds: the optics groups (spelled), how many
/// particles are kept, and whether they fall in more than one half-set.
struct Survey {
    optics: BTreeMap<u64, Vec<u8>>,
    kept: u64,
    first_split: Option<u64>,
    splits_differ: bool,
}

fn survey(plan: &Plan, particles: Projection) -> Result<Survey, Failure> {
    let name = particles.name().to_string();
    let mut s = Survey {
        optics: BTreeMap::new(),
        kept: 0,
        first_split: None,
        splits_differ: false,
    };
    let mut chunks = particles.chunks(cs_format::CHUNK_BYTES)?;
    while let Some(chunk) = chunks.next_chunk() {
        let chunk = chunk?;
        for row in 0..chunk.rows {
            let r = plan.survey(&chunk, row).map_err(|e| e.in_file(&name))?;
            if let Some(split) = r.split {
                s.splits_differ |= s.first_split.is_some_and(|f| f != split);
                s.first_split.get_or_insert(split);
            }
            if !r.kept {
                continue;
            }
            s.kept += 1;
            if let std::collections::btree_map::Entry::Vacant(e) = s.optics.entry(r.group) {
                let mut line = Vec::new();
                plan.write_optics(&chunk, row, &mut line)
                    .map_err(|e| e.in_file(&name))?;
                e.insert(line);
            }
        }
        chunks.recycle(chunk);
    }
    Ok(s)
}

/// A table's header: `data_NAME`, `loop_` and its column names.
fn write_table_header(
    out: &mut impl Write,
    table: &str,
    columns: &[Column],
) -> std::io::Result<()> {
    write!(out, "\n# version 30001\n\n{table}\n\nloop_\n")?;
    for (i, c) in columns.iter().enumerate() {
        writeln!(out, "_{} #{}", c.name, i + 1)?;
    }
    Ok(())
}

/// Run `cs-to-star` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    let opts = args.map_options()?;
    args.group
        .refuse_group_as_output(&[InputPath::from_arg(&args.file)], &args.output)?;
    let mut out = args.output.open_text()?;
    let ds = open_particles(&args)?;
    let name = ds.name().to_string();
    let mut plan =
        Plan::new(ds.schema(), opts).map_err(|what| Error::in_whole_file(what).in_file(&name))?;
    if !plan.left_out.is_empty() {
        cs_cli::report(
            "cs-to-star",
            &format!(
                "{name}: fields with no STAR column, left out: {}",
                plan::left_out_note(&plan.left_out)
            ),
        );
    }
    let particles = ds.select_indices(plan.select.clone())?;
    let again = particles.reopen()?;
    let found = survey(&plan, particles)?;
    if found.kept == 0 && !args.class.is_empty() {
        return Err(Error::in_whole_file(format!(
            "no particle is in class {} (rlnClassNumber, 1-based) with a posterior of at least {}",
            args.class
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            args.minphic
        ))
        .in_file(&name)
        .into());
    }
    if plan.has_split() && !found.splits_differ {
        plan.drop_split();
    }
    if !args.relion2 {
        write_table_header(&mut out, "data_optics", &plan.optics)?;
        for line in found.optics.values() {
            out.write_all(line)?;
        }
    }
    let table = if args.relion2 {
        "data_images"
    } else {
        "data_particles"
    };
    write_table_header(&mut out, table, &plan.particles)?;
    ChunkConverter::default().stream(again, u64::MAX, &plan, &mut out)?;
    out.write_all(b"\n")?;
    out.finish()
}
