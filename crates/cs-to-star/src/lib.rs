//! `cs-to-star`: particles (a `.cs` file or a job's output) as a RELION 3.1 STAR file, with the
//! field map of FORMATS.md §13 (pyem's `csparc2star` conventions).

use clap::{CommandFactory, Parser};
use cs_cli::{Failure, Generate, InputPath, Outcome, OutputChoice};
use cs_format::cell::Scalar;
use cs_format::{Chunk, Error, Schema};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

/// Write cryoSPARC particles as a RELION 3.1 STAR file.
#[derive(Debug, Parser)]
#[command(
    name = "cs-to-star",
    version,
    about = "Write cryoSPARC particles (a .cs file or a job's output) as a RELION 3.1 STAR file",
    long_about = "Write particles as a RELION 3.1 STAR file (data_optics and data_particles) on \
standard output, with pyem's csparc2star field map (FORMATS.md §13).\n\n\
Conventions: rlnImageName is IDX@PATH with the 1-based image index (blob/idx + 1, six digits) and a \
leading '>' stripped; coordinates are round(frac x size), Y flipped (1 - y) as pyem does unless \
--no-flip-y; angles are degrees: alignments3D/pose (a rotation vector) becomes a rotation matrix \
and then RELION's ZYZ rot, tilt, psi; alignments2D/pose becomes rlnAnglePsi; shifts become \
rlnOriginX/YAngst (pixels x pixel size); split, class and exposure group become 1-based \
rlnRandomSubset, rlnClassNumber and rlnOpticsGroup. A multi-class output \
(alignments_class_N/...) gives each particle the class with the largest class_posterior.\n\n\
Fields with no STAR column are named once on stderr, never dropped silently.",
    after_help = "Examples:\n  cs-to-star J8/J8_004_particles.cs > particles.star\n  \
cs-to-star J8 --output particles > particles.star\n\n\
Exit status: 0 on success, 1 on bad data or an I/O error, 2 on bad usage."
)]
pub struct Args {
    /// The .cs file or job folder ("-" or none: a .cs on standard input).
    #[arg(value_name = "FILE")]
    pub file: Option<String>,

    /// Output reference: read a job folder's output.
    #[command(flatten)]
    pub output: OutputChoice,

    /// Keep cryoSPARC's Y coordinate (pyem flips it by default).
    #[arg(long)]
    pub no_flip_y: bool,

    /// Print the man page or a shell completion script.
    #[arg(long, hide = true, value_enum, value_name = "WHAT")]
    pub generate: Option<Generate>,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    cs_cli::main_with("cs-to-star", run)
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    Args::command()
}

/// Rotation vector (axis × angle, radians) to RELION's Euler angles (rot, tilt, psi) in
/// degrees, as pyem computes them: `rot2euler(expmap(pose))`.
pub fn pose_to_euler(v: [f64; 3]) -> [f64; 3] {
    let theta = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let r = if theta < 1e-16 {
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    } else {
        let w = [v[0] / theta, v[1] / theta, v[2] / theta];
        // pyem's expmap: I + sin θ K + (1 − cos θ) K², K = [[0, w2, −w1], [−w2, 0, w0], [w1, −w0, 0]].
        let k = [[0.0, w[2], -w[1]], [-w[2], 0.0, w[0]], [w[1], -w[0], 0.0]];
        let mut r = [[0.0; 3]; 3];
        for (i, ri) in r.iter_mut().enumerate() {
            for (j, rij) in ri.iter_mut().enumerate() {
                let kk: f64 = (0..3).map(|m| k[i][m] * k[m][j]).sum();
                let id = if i == j { 1.0 } else { 0.0 };
                *rij = id + theta.sin() * k[i][j] + (1.0 - theta.cos()) * kk;
            }
        }
        r
    };
    let abs_sb = (r[0][2] * r[0][2] + r[1][2] * r[1][2]).sqrt();
    let (rot, tilt, psi) = if abs_sb > 16.0 * f64::EPSILON {
        (
            r[1][2].atan2(r[0][2]),
            abs_sb.atan2(r[2][2]),
            r[2][1].atan2(-r[2][0]),
        )
    } else if r[2][2] > 0.0 {
        (0.0, 0.0, (-r[1][0]).atan2(r[0][0]))
    } else {
        (0.0, std::f64::consts::PI, r[1][0].atan2(-r[0][0]))
    };
    [rot.to_degrees(), tilt.to_degrees(), psi.to_degrees()]
}

/// Reads numbers and strings of named fields from chunks.
struct Columns {
    index: BTreeMap<String, usize>,
}

impl Columns {
    fn new(schema: &Schema) -> Self {
        Columns {
            index: schema
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name.clone(), i))
                .collect(),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    fn num(&self, chunk: &Chunk, row: usize, name: &str, i: usize) -> cs_format::Result<f64> {
        let Some(&c) = self.index.get(name) else {
            return Ok(0.0);
        };
        Ok(match chunk.scalar(row, c, i)? {
            Scalar::Int(v) => v as f64,
            Scalar::UInt(v) => v as f64,
            Scalar::F32(v) => f64::from(v),
            Scalar::F64(v) => v,
            _ => 0.0,
        })
    }

    fn text(&self, chunk: &Chunk, row: usize, name: &str) -> cs_format::Result<String> {
        let Some(&c) = self.index.get(name) else {
            return Ok(String::new());
        };
        Ok(match chunk.scalar(row, c, 0)? {
            Scalar::Str(s) => s.into_owned(),
            _ => String::new(),
        })
    }
}

/// The fields the map uses.
const USED: [&str; 24] = [
    "uid",
    "blob/path",
    "blob/idx",
    "blob/shape",
    "blob/psize_A",
    "ctf/accel_kv",
    "ctf/cs_mm",
    "ctf/amp_contrast",
    "ctf/df1_A",
    "ctf/df2_A",
    "ctf/df_angle_rad",
    "ctf/phase_shift_rad",
    "ctf/bfactor",
    "ctf/exp_group_id",
    "location/micrograph_path",
    "location/center_x_frac",
    "location/center_y_frac",
    "location/micrograph_shape",
    "alignments3D/pose",
    "alignments3D/shift",
    "alignments3D/split",
    "alignments3D/class",
    "alignments3D/psize_A",
    "alignments2D/pose",
];

/// True when a field has a STAR column (or decides a particle's class).
fn is_mapped(name: &str) -> bool {
    let class_field = name.starts_with("alignments_class_")
        && ["pose", "shift", "class_posterior"]
            .iter()
            .any(|s| name.ends_with(&format!("/{s}")));
    USED.contains(&name) || class_field
}

/// A STAR token: quoted when empty or holding white space.
fn token(s: &str) -> String {
    if s.is_empty() || s.contains(char::is_whitespace) {
        format!("\"{s}\"")
    } else {
        s.to_string()
    }
}

/// Which alignments prefix a row takes: `alignments3D`, or the multi-class slot with the
/// largest posterior.
fn class_slots(schema: &Schema) -> Vec<(usize, String)> {
    let mut slots: Vec<(usize, String)> = schema
        .fields
        .iter()
        .filter_map(|f| {
            let rest = f.name.strip_prefix("alignments_class_")?;
            let (n, field) = rest.split_once('/')?;
            (field == "class_posterior")
                .then(|| Some((n.parse().ok()?, format!("alignments_class_{n}"))))
                .flatten()
        })
        .collect();
    slots.sort();
    slots
}

/// Run `cs-to-star` with parsed arguments.
pub fn run(args: Args) -> Outcome {
    if let Some(what) = args.generate {
        return cs_cli::generate(command(), what);
    }
    let input = InputPath::from_arg(args.file.as_deref().unwrap_or("-"));
    if input == InputPath::Stdin {
        return Err(Failure::Usage(
            "cs-to-star reads its input twice (optics groups first): give a file, not standard input"
                .into(),
        ));
    }
    let ds = input.open_with(&args.output)?;
    let name = ds.name().to_string();
    let schema = ds.schema().clone();
    let cols = Columns::new(&schema);
    if !cols.has("blob/path") {
        return Err(Error::in_whole_file(
            "has no blob/path field: not particles with images (join the passthrough file, or use --output)",
        )
        .in_file(&name)
        .into());
    }
    let classes = class_slots(&schema);
    let unmapped: Vec<&str> = schema
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .filter(|n| !is_mapped(n))
        .collect();
    if !unmapped.is_empty() {
        cs_cli::report(
            "cs-to-star",
            &format!(
                "{name}: {} fields have no STAR column and are left out: {}",
                unmapped.len(),
                unmapped.join(", ")
            ),
        );
    }
    let all: Vec<usize> = (0..schema.fields.len()).collect();
    // Pass 1: the optics groups (first particle of each exposure group).
    let mut optics: BTreeMap<u64, [f64; 5]> = BTreeMap::new();
    for chunk in ds.chunks(&all, cs_cli::CHUNK_BYTES)? {
        let chunk = chunk?;
        for row in 0..chunk.rows {
            let g = cols.num(&chunk, row, "ctf/exp_group_id", 0)? as u64;
            if let std::collections::btree_map::Entry::Vacant(e) = optics.entry(g) {
                e.insert([
                    cols.num(&chunk, row, "ctf/accel_kv", 0)?,
                    cols.num(&chunk, row, "ctf/cs_mm", 0)?,
                    cols.num(&chunk, row, "ctf/amp_contrast", 0)?,
                    cols.num(&chunk, row, "blob/psize_A", 0)?,
                    cols.num(&chunk, row, "blob/shape", 0)?,
                ]);
            }
        }
    }
    let mut out = cs_cli::stdout();
    writeln!(out, "\n# version 30001\n\ndata_optics\n\nloop_")?;
    for (i, c) in [
        "rlnOpticsGroup",
        "rlnOpticsGroupName",
        "rlnVoltage",
        "rlnSphericalAberration",
        "rlnAmplitudeContrast",
        "rlnImagePixelSize",
        "rlnImageSize",
        "rlnImageDimensionality",
    ]
    .iter()
    .enumerate()
    {
        writeln!(out, "_{c} #{}", i + 1)?;
    }
    for (g, [kv, cs, ac, ps, size]) in &optics {
        writeln!(
            out,
            "{} opticsGroup{} {kv:.6} {cs:.6} {ac:.6} {ps:.6} {} 2",
            g + 1,
            g + 1,
            *size as u64
        )?;
    }
    // Pass 2: the particles.
    let has3d = cols.has("alignments3D/pose") || !classes.is_empty();
    let has2d = !has3d && cols.has("alignments2D/pose");
    let mut columns: Vec<&str> = vec!["rlnImageName"];
    if cols.has("location/micrograph_path") {
        columns.push("rlnMicrographName");
    }
    if cols.has("location/center_x_frac") {
        columns.extend(["rlnCoordinateX", "rlnCoordinateY"]);
    }
    if cols.has("ctf/df1_A") {
        columns.extend([
            "rlnDefocusU",
            "rlnDefocusV",
            "rlnDefocusAngle",
            "rlnPhaseShift",
            "rlnCtfBfactor",
        ]);
    }
    columns.push("rlnOpticsGroup");
    if has3d {
        columns.extend([
            "rlnAngleRot",
            "rlnAngleTilt",
            "rlnAnglePsi",
            "rlnOriginXAngst",
            "rlnOriginYAngst",
        ]);
    } else if has2d {
        columns.extend(["rlnAnglePsi", "rlnOriginXAngst", "rlnOriginYAngst"]);
    }
    if cols.has("alignments3D/split") {
        columns.push("rlnRandomSubset");
    }
    if cols.has("alignments3D/class") || !classes.is_empty() {
        columns.push("rlnClassNumber");
    }
    writeln!(out, "\n# version 30001\n\ndata_particles\n\nloop_")?;
    for (i, c) in columns.iter().enumerate() {
        writeln!(out, "_{c} #{}", i + 1)?;
    }
    let flip = !args.no_flip_y;
    let ds = input.open_with(&args.output)?;
    let mut line = String::new();
    for chunk in ds.chunks(&all, cs_cli::CHUNK_BYTES)? {
        let chunk = chunk?;
        for row in 0..chunk.rows {
            line.clear();
            let path = cols.text(&chunk, row, "blob/path")?;
            let idx = cols.num(&chunk, row, "blob/idx", 0)? as u64;
            line.push_str(&token(&format!(
                "{:06}@{}",
                idx + 1,
                path.trim_start_matches('>')
            )));
            let mut push = |s: String| {
                line.push(' ');
                line.push_str(&s);
            };
            if cols.has("location/micrograph_path") {
                push(token(&cols.text(
                    &chunk,
                    row,
                    "location/micrograph_path",
                )?));
            }
            if cols.has("location/center_x_frac") {
                let h = cols.num(&chunk, row, "location/micrograph_shape", 0)?;
                let w = cols.num(&chunk, row, "location/micrograph_shape", 1)?;
                let x = cols.num(&chunk, row, "location/center_x_frac", 0)?;
                let y = cols.num(&chunk, row, "location/center_y_frac", 0)?;
                let y = if flip { 1.0 - y } else { y };
                push(format!("{:.6}", (x * w).round()));
                push(format!("{:.6}", (y * h).round()));
            }
            if cols.has("ctf/df1_A") {
                push(format!("{:.6}", cols.num(&chunk, row, "ctf/df1_A", 0)?));
                push(format!("{:.6}", cols.num(&chunk, row, "ctf/df2_A", 0)?));
                push(format!(
                    "{:.6}",
                    cols.num(&chunk, row, "ctf/df_angle_rad", 0)?.to_degrees()
                ));
                push(format!(
                    "{:.6}",
                    cols.num(&chunk, row, "ctf/phase_shift_rad", 0)?
                        .to_degrees()
                ));
                push(format!("{:.6}", cols.num(&chunk, row, "ctf/bfactor", 0)?));
            }
            push(format!(
                "{}",
                cols.num(&chunk, row, "ctf/exp_group_id", 0)? as u64 + 1
            ));
            // The alignment slot this particle takes.
            let (slot, class) = if classes.is_empty() {
                (
                    "alignments3D".to_string(),
                    cols.num(&chunk, row, "alignments3D/class", 0)? as u64,
                )
            } else {
                let mut best = (f64::NEG_INFINITY, 0usize, String::new());
                for (n, prefix) in &classes {
                    let p = cols.num(&chunk, row, &format!("{prefix}/class_posterior"), 0)?;
                    if p > best.0 {
                        best = (p, *n, prefix.clone());
                    }
                }
                (best.2, best.1 as u64)
            };
            let psize = if cols.has("alignments3D/psize_A") {
                cols.num(&chunk, row, "alignments3D/psize_A", 0)?
            } else {
                cols.num(&chunk, row, "blob/psize_A", 0)?
            };
            if has3d {
                let pose = [
                    cols.num(&chunk, row, &format!("{slot}/pose"), 0)?,
                    cols.num(&chunk, row, &format!("{slot}/pose"), 1)?,
                    cols.num(&chunk, row, &format!("{slot}/pose"), 2)?,
                ];
                for a in pose_to_euler(pose) {
                    push(format!("{a:.6}"));
                }
                for i in 0..2 {
                    let s = cols.num(&chunk, row, &format!("{slot}/shift"), i)?;
                    push(format!("{:.6}", s * psize));
                }
            } else if has2d {
                push(format!(
                    "{:.6}",
                    cols.num(&chunk, row, "alignments2D/pose", 0)?.to_degrees()
                ));
                for i in 0..2 {
                    let s = cols.num(&chunk, row, "alignments2D/shift", i)?;
                    push(format!("{:.6}", s * psize));
                }
            }
            if cols.has("alignments3D/split") {
                push(format!(
                    "{}",
                    cols.num(&chunk, row, "alignments3D/split", 0)? as u64 + 1
                ));
            }
            if cols.has("alignments3D/class") || !classes.is_empty() {
                push(format!("{}", class + 1));
            }
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
    }
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_rotation_is_zero_angles() {
        let [rot, tilt, psi] = pose_to_euler([0.0, 0.0, 0.0]);
        assert!(rot.abs() < 1e-9 && tilt.abs() < 1e-9 && psi.abs() < 1e-9);
    }

    #[test]
    fn a_rotation_about_y_is_a_tilt() {
        let [_, tilt, _] = pose_to_euler([0.0, 0.5, 0.0]);
        assert!((tilt - 0.5f64.to_degrees()).abs() < 1e-9, "{tilt}");
    }
}
