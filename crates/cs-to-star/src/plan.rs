//! Which STAR columns a particle file gives and where each value comes from (FORMATS.md §13,
//! pyem's `csparc2star`), decided once from the schema; then spelled row by row.

use cs_format::text::cell::{spell_i64, spell_u64, Scalar};
use cs_format::{Chunk, Error, Place, Result, Schema};
use std::collections::{BTreeMap, BTreeSet};

/// The choices of pyem's options that change values.
#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    /// Multiply X by `micrograph_shape[1]` and Y by `[0]` (pyem's default; `--noswapxy` off).
    pub swap_xy: bool,
    /// `1 − x` before scaling.
    pub invert_x: bool,
    /// `1 − y` before scaling (pyem's default; `--inverty` turns it off).
    pub invert_y: bool,
    /// Strip cryoSPARC's uid prefixes from file names: `Some(None)` all, `Some(Some(n))` the first n.
    pub strip_uid: Option<Option<usize>>,
    /// Folder that replaces the micrographs' folder.
    pub micrograph_path: Option<String>,
    /// Folder that replaces the particle stacks' folder.
    pub stack_path: Option<String>,
    /// RELION 3.0 layout: one `data_images` table, origins in pixels, no optics table.
    pub relion2: bool,
    /// Keep only these classes (1-based, as written in rlnClassNumber).
    pub classes: Vec<u64>,
    /// Drop particles whose assigned class has a smaller posterior.
    pub min_posterior: f64,
}

/// A field of the selection: its position among the read fields and its element count.
#[derive(Debug, Clone, Copy)]
struct Col {
    at: usize,
    count: usize,
}

/// The schema's fields by name; records which are read and which reach the output.
struct Fields<'a> {
    schema: &'a Schema,
    select: Vec<usize>,
    used: BTreeSet<String>,
}

impl Fields<'_> {
    /// A field whose values reach the STAR file.
    fn take(&mut self, name: &str) -> Option<Col> {
        let i = self.schema.index_of(name)?;
        self.used.insert(name.to_string());
        let at = match self.select.iter().position(|&s| s == i) {
            Some(at) => at,
            None => {
                self.select.push(i);
                self.select.len() - 1
            }
        };
        Some(Col {
            at,
            count: self.schema.fields[i].ty.count(),
        })
    }

    fn has(&self, name: &str) -> bool {
        self.schema.index_of(name).is_some()
    }
}

/// The alignment fields of one slot (`alignments3D`, `alignments_class_3`, …).
#[derive(Debug, Clone, Copy, Default)]
struct SlotCols {
    pose: Option<Col>,
    shift: Option<Col>,
    psize: Option<Col>,
    class: Option<Col>,
    split: Option<Col>,
    posterior: Option<Col>,
}

impl SlotCols {
    fn take(fields: &mut Fields<'_>, prefix: &str, posterior: bool) -> SlotCols {
        let mut f = |s: &str| fields.take(&format!("{prefix}/{s}"));
        SlotCols {
            pose: f("pose"),
            shift: f("shift"),
            psize: f("psize_A"),
            class: f("class"),
            split: f("split"),
            posterior: if posterior {
                f("class_posterior")
            } else {
                None
            },
        }
    }
}

/// Where the particles' alignments are, in pyem's order of preference.
#[derive(Debug)]
enum Alignment {
    None,
    /// `alignments3D/*`: a refinement's poses.
    ThreeD(SlotCols),
    /// `alignments3D_multi/*` (cryoSPARC ≥ 4.5): per-class subarrays of `k` classes.
    Multi {
        cols: SlotCols,
        k: usize,
    },
    /// `alignments_class_N/*` (cryoSPARC ≤ 4.4): one slot per class.
    Classes(Vec<(u64, SlotCols)>),
    /// `alignments2D/*`: a 2D classification (in-plane angle only).
    TwoD(SlotCols),
}

/// The alignment one particle takes.
struct Assigned<'a> {
    cols: &'a SlotCols,
    /// Which class block of an `alignments3D_multi` subarray, and how many blocks there are
    /// (1 for other slots).
    block: usize,
    blocks: usize,
    /// 0-based class, when the slot says one.
    class: Option<u64>,
    posterior: Option<f64>,
}

/// Where one STAR value comes from.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// `IDX@PATH`.
    ImageName { path: Col, idx: Option<Col> },
    /// `location/micrograph_path`, edited as asked.
    Micrograph(Col),
    /// A coordinate in pixels: `round(frac × micrograph_shape[axis])`.
    Coord {
        frac: Col,
        shape: Col,
        axis: usize,
        invert: bool,
    },
    /// A number as stored.
    Number(Col, usize),
    /// Radians to degrees.
    Degrees(Col),
    /// An integer as stored (exactly, u64 included).
    Integer(Col),
    /// Beam tilt in mrad from `ctf/tilt_A[axis]` and `ctf/cs_mm`.
    BeamTilt { tilt: Col, cs: Col, axis: usize },
    /// pyem's helical prior: `degrees(π/2 − filament_pose)`.
    PsiPrior(Col),
    /// RELION's Euler angle 0 (rot), 1 (tilt) or 2 (psi) of the 3D pose.
    Angle(usize),
    /// The in-plane angle of a 2D alignment, in degrees.
    Psi2D,
    /// The shift along `axis` in Å (or, for RELION 3.0, in pixels of the image).
    Origin {
        axis: usize,
        image_psize: Option<Col>,
    },
    /// The assigned class, 1-based.
    Class,
    /// The half-set, 1-based.
    Split,
    /// `ctf/exp_group_id + 1`, or 1.
    OpticsGroup(Option<Col>),
    /// `opticsGroupN`.
    OpticsGroupName(Option<Col>),
    /// A fixed spelling.
    Const(&'static str),
}

/// One STAR column.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Its name, without the leading `_`.
    pub name: &'static str,
    value: Value,
}

/// Everything needed to write a particle file's STAR lines.
#[derive(Debug)]
pub struct Plan {
    /// The fields to read, by schema index.
    pub select: Vec<usize>,
    /// The particles table's columns.
    pub particles: Vec<Column>,
    /// The optics table's columns (none for RELION 3.0).
    pub optics: Vec<Column>,
    /// Fields read only to check or group (exposure group).
    group: Option<Col>,
    alignment: Alignment,
    /// Text fields checked before anything is written: (column, field name).
    texts: Vec<(Col, String)>,
    opts: MapOptions,
    /// Fields with no STAR column: what the note on stderr lists.
    pub left_out: Vec<String>,
}

impl Plan {
    /// The map for `schema`; an error when it is not particles with images.
    pub fn new(schema: &Schema, opts: MapOptions) -> std::result::Result<Plan, String> {
        let mut f = Fields {
            schema,
            select: Vec::new(),
            used: BTreeSet::new(),
        };
        let Some(path) = f.take("blob/path") else {
            return Err("has no blob/path field: not particles with images (give its passthrough file too, or the job folder with --group NAME)".into());
        };
        let idx = f.take("blob/idx");
        let alignment = alignment_of(&mut f, &opts);
        if !opts.classes.is_empty() && !alignment.has_class() {
            return Err(
                "--class: the particles have no class (no alignments with a class field)".into(),
            );
        }
        let group = f.take("ctf/exp_group_id");
        let mut texts = vec![(path, "blob/path".to_string())];
        let mut particles = vec![col("rlnImageName", Value::ImageName { path, idx })];
        if let Some(m) = f.take("location/micrograph_path") {
            texts.push((m, "location/micrograph_path".into()));
            particles.push(col("rlnMicrographName", Value::Micrograph(m)));
        }
        particles.extend(coordinates(&mut f, &opts));
        particles.extend(alignment.columns(&mut f, &opts));
        if opts.relion2 {
            particles.extend(relion2_microscope(&mut f));
        }
        particles.extend(ctf_columns(&mut f, opts.relion2));
        let optics = if opts.relion2 {
            Vec::new()
        } else {
            particles.push(col("rlnOpticsGroup", Value::OpticsGroup(group)));
            optics_columns(&mut f, group)
        };
        particles.extend(alignment.labels());
        if let Some(t) = f.take("filament/filament_uid") {
            particles.push(col("rlnHelicalTubeID", Value::Integer(t)));
        }
        if let Some(p) = f.take("filament/filament_pose") {
            particles.push(col("rlnAnglePsiPrior", Value::PsiPrior(p)));
        }
        let left_out = schema
            .fields
            .iter()
            .map(|x| x.name.clone())
            .filter(|n| !f.used.contains(n))
            .collect();
        Ok(Plan {
            select: f.select,
            particles,
            optics,
            group,
            alignment,
            texts,
            opts,
            left_out,
        })
    }

    /// Drop the half-set column (pyem drops it when every particle is in the same half).
    pub fn drop_split(&mut self) {
        self.particles.retain(|c| !matches!(c.value, Value::Split));
    }

    /// Whether the particles table has a half-set column.
    pub fn has_split(&self) -> bool {
        self.particles
            .iter()
            .any(|c| matches!(c.value, Value::Split))
    }

    /// Look at one row before anything is written: its text values are writable, whether it
    /// is kept, its exposure group and its half-set.
    pub fn survey(&self, chunk: &Chunk, row: usize) -> Result<RowSurvey> {
        for (c, name) in &self.texts {
            let s = text(chunk, row, *c)?;
            if let Some(why) = cs_format::text::star::unwritable(&s) {
                return Err(Error::new(
                    Place::Cell {
                        row: chunk.start_row + row as u64,
                        field: name.clone(),
                    },
                    format!("{why}: rename the file, or edit the value (cs-cat | jq | csv-to-cs)"),
                ));
            }
        }
        let a = self.alignment.assign(chunk, row)?;
        let split = match a.cols.split {
            Some(c) => Some(slot_number(chunk, row, c, &a, 0)? as u64),
            None => None,
        };
        let group = match self.group {
            Some(g) => number(chunk, row, g, 0)? as u64,
            None => 0,
        };
        Ok(RowSurvey {
            kept: self.keeps(&a),
            group,
            split,
        })
    }

    fn keeps(&self, a: &Assigned<'_>) -> bool {
        let class_ok = self.opts.classes.is_empty()
            || a.class
                .is_some_and(|c| self.opts.classes.contains(&(c + 1)));
        let posterior_ok = a.posterior.is_none_or(|p| p >= self.opts.min_posterior);
        class_ok && posterior_ok
    }

    /// Append the optics table's values of `row` (the first particle of its group).
    pub fn write_optics(&self, chunk: &Chunk, row: usize, out: &mut Vec<u8>) -> Result<()> {
        let a = self.alignment.assign(chunk, row)?;
        self.write_values(&self.optics, chunk, row, &a, out)
    }

    fn write_values(
        &self,
        columns: &[Column],
        chunk: &Chunk,
        row: usize,
        a: &Assigned<'_>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let angles = match (&self.alignment, a.cols.pose) {
            (Alignment::TwoD(_), _) | (_, None) => [0.0; 3],
            (_, Some(p)) => cs_format::text::star::pose_to_euler([
                slot_number(chunk, row, p, a, 0)?,
                slot_number(chunk, row, p, a, 1)?,
                slot_number(chunk, row, p, a, 2)?,
            ]),
        };
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            self.spell(c.value, chunk, row, a, &angles, out)?;
        }
        out.push(b'\n');
        Ok(())
    }

    fn spell(
        &self,
        value: Value,
        chunk: &Chunk,
        row: usize,
        a: &Assigned<'_>,
        angles: &[f64; 3],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        use cs_format::text::star::push_fixed6 as fixed;
        let num = |c: Col, i: usize| number(chunk, row, c, i);
        match value {
            Value::ImageName { path, idx } => self.spell_image_name(chunk, row, path, idx, out)?,
            Value::Micrograph(c) => {
                let p = self.edit_path(&text(chunk, row, c)?, self.opts.micrograph_path.as_deref());
                cs_format::text::star::push_token(out, &p);
            }
            Value::Coord {
                frac,
                shape,
                axis,
                invert,
            } => spell_i64(coordinate(chunk, row, frac, (shape, axis), invert)?, out),
            Value::Number(c, i) => fixed(out, num(c, i)?),
            Value::Degrees(c) => fixed(out, num(c, 0)?.to_degrees()),
            Value::Integer(c) => match chunk.scalar(row, c.at, 0)? {
                Scalar::UInt(v) => spell_u64(v, out),
                Scalar::Int(v) => spell_i64(v, out),
                other => fixed(out, scalar_f64(&other)),
            },
            Value::BeamTilt { tilt, cs, axis } => fixed(
                out,
                cs_format::text::star::beam_tilt_mrad(num(tilt, axis)?, num(cs, 0)?),
            ),
            Value::PsiPrior(c) => {
                fixed(out, (std::f64::consts::FRAC_PI_2 - num(c, 0)?).to_degrees())
            }
            Value::Angle(k) => fixed(out, angles[k]),
            Value::Psi2D => match a.cols.pose {
                Some(p) => fixed(out, slot_number(chunk, row, p, a, 0)?.to_degrees()),
                None => fixed(out, 0.0),
            },
            Value::Origin { axis, image_psize } => {
                fixed(out, origin(chunk, row, a, axis, image_psize)?);
            }
            Value::Class => spell_u64(a.class.unwrap_or(0) + 1, out),
            Value::Split => match a.cols.split {
                Some(s) => spell_i64(slot_number(chunk, row, s, a, 0)? as i64 + 1, out),
                None => spell_i64(1, out),
            },
            Value::OpticsGroup(g) => spell_u64(group_of(chunk, row, g)? + 1, out),
            Value::OpticsGroupName(g) => {
                out.extend_from_slice(b"opticsGroup");
                spell_u64(group_of(chunk, row, g)? + 1, out);
            }
            Value::Const(s) => out.extend_from_slice(s.as_bytes()),
        }
        Ok(())
    }

    /// `IDX@PATH`: the 1-based image index (six digits) and the stack's file name as edited.
    fn spell_image_name(
        &self,
        chunk: &Chunk,
        row: usize,
        path: Col,
        idx: Option<Col>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let i = match idx {
            Some(c) => number(chunk, row, c, 0)? as u64,
            None => 0,
        };
        let p = self.edit_path(&text(chunk, row, path)?, self.opts.stack_path.as_deref());
        cs_format::text::star::push_token(out, &format!("{:06}@{p}", i + 1));
        Ok(())
    }

    /// A file name as written: cryoSPARC's leading `>` gone, uid prefixes stripped and the
    /// folder replaced when asked.
    fn edit_path(&self, path: &str, folder: Option<&str>) -> String {
        let p = path.strip_prefix('>').unwrap_or(path);
        let p = match self.opts.strip_uid {
            Some(count) => cs_format::text::star::strip_path_uids(p, count),
            None => p.into(),
        };
        match folder {
            Some(dir) => cs_format::text::star::in_folder(dir, &p),
            None => p.into_owned(),
        }
    }
}

impl cs_format::text::jsonl::RowSpeller for Plan {
    fn write_rows(
        &self,
        chunk: &Chunk,
        rows: std::ops::Range<usize>,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        for row in rows {
            let a = self.alignment.assign(chunk, row)?;
            if self.keeps(&a) {
                self.write_values(&self.particles, chunk, row, &a, out)?;
            }
        }
        Ok(())
    }
}

/// What the first pass learns of one row.
pub struct RowSurvey {
    /// It passes `--class` and `--minphic`.
    pub kept: bool,
    /// Its 0-based exposure group.
    pub group: u64,
    /// Its 0-based half-set.
    pub split: Option<u64>,
}

fn col(name: &'static str, value: Value) -> Column {
    Column { name, value }
}

fn alignment_of(f: &mut Fields<'_>, opts: &MapOptions) -> Alignment {
    if f.has("alignments3D/pose") {
        let posterior = opts.min_posterior > 0.0;
        return Alignment::ThreeD(SlotCols::take(f, "alignments3D", posterior));
    }
    if let Some(p) = f.take("alignments3D_multi/class_posterior") {
        let mut cols = SlotCols::take(f, "alignments3D_multi", true);
        cols.posterior = Some(p);
        return Alignment::Multi { cols, k: p.count };
    }
    let mut slots: Vec<u64> = f
        .schema
        .fields
        .iter()
        .filter_map(|x| {
            let rest = x.name.strip_prefix("alignments_class_")?;
            let (n, field) = rest.split_once('/')?;
            (field == "class_posterior").then(|| n.parse().ok())?
        })
        .collect();
    if !slots.is_empty() {
        slots.sort_unstable();
        let cols = slots
            .iter()
            .map(|&n| (n, SlotCols::take(f, &format!("alignments_class_{n}"), true)))
            .collect();
        return Alignment::Classes(cols);
    }
    if f.has("alignments2D/pose") {
        let posterior = opts.min_posterior > 0.0;
        return Alignment::TwoD(SlotCols::take(f, "alignments2D", posterior));
    }
    Alignment::None
}

impl Alignment {
    fn has_class(&self) -> bool {
        match self {
            Alignment::None => false,
            Alignment::ThreeD(c) | Alignment::TwoD(c) => c.class.is_some(),
            Alignment::Multi { .. } | Alignment::Classes(_) => true,
        }
    }

    fn has_split(&self) -> bool {
        match self {
            Alignment::None => false,
            Alignment::ThreeD(c) | Alignment::TwoD(c) | Alignment::Multi { cols: c, .. } => {
                c.split.is_some()
            }
            Alignment::Classes(slots) => slots.iter().any(|(_, c)| c.split.is_some()),
        }
    }

    /// The angle and origin columns.
    fn columns(&self, f: &mut Fields<'_>, opts: &MapOptions) -> Vec<Column> {
        let image_psize = if opts.relion2 {
            f.take("blob/psize_A")
        } else {
            None
        };
        let (x, y) = if opts.relion2 {
            ("rlnOriginX", "rlnOriginY")
        } else {
            ("rlnOriginXAngst", "rlnOriginYAngst")
        };
        let origins = [
            col(
                x,
                Value::Origin {
                    axis: 0,
                    image_psize,
                },
            ),
            col(
                y,
                Value::Origin {
                    axis: 1,
                    image_psize,
                },
            ),
        ];
        let mut cols = match self {
            Alignment::None => return Vec::new(),
            Alignment::TwoD(_) => vec![col("rlnAnglePsi", Value::Psi2D)],
            _ => vec![
                col("rlnAngleRot", Value::Angle(0)),
                col("rlnAngleTilt", Value::Angle(1)),
                col("rlnAnglePsi", Value::Angle(2)),
            ],
        };
        cols.extend(origins);
        cols
    }

    /// The half-set and class columns.
    fn labels(&self) -> Vec<Column> {
        let mut cols = Vec::new();
        if self.has_split() {
            cols.push(col("rlnRandomSubset", Value::Split));
        }
        if self.has_class() {
            cols.push(col("rlnClassNumber", Value::Class));
        }
        cols
    }

    /// The slot, class and posterior of one particle: for several classes, the class with the
    /// largest posterior (the first of equals).
    fn assign(&self, chunk: &Chunk, row: usize) -> Result<Assigned<'_>> {
        match self {
            Alignment::None => Ok(Assigned::unaligned()),
            Alignment::ThreeD(cols) | Alignment::TwoD(cols) => Assigned::of_slot(cols, chunk, row),
            Alignment::Multi { cols, k } => Assigned::of_multi(cols, *k, chunk, row),
            Alignment::Classes(slots) => Assigned::of_classes(slots, chunk, row),
        }
    }
}

impl<'a> Assigned<'a> {
    /// No alignment.
    fn unaligned() -> Self {
        const NONE: SlotCols = SlotCols {
            pose: None,
            shift: None,
            psize: None,
            class: None,
            split: None,
            posterior: None,
        };
        Assigned {
            cols: &NONE,
            block: 0,
            blocks: 1,
            class: None,
            posterior: None,
        }
    }

    /// One slot (`alignments3D`, `alignments2D`): its class and posterior when it has them.
    fn of_slot(cols: &'a SlotCols, chunk: &Chunk, row: usize) -> Result<Self> {
        Ok(Assigned {
            cols,
            block: 0,
            blocks: 1,
            class: match cols.class {
                Some(c) => Some(number(chunk, row, c, 0)? as u64),
                None => None,
            },
            posterior: match cols.posterior {
                Some(p) => Some(number(chunk, row, p, 0)?),
                None => None,
            },
        })
    }

    /// `alignments3D_multi`: the block of the class with the largest posterior among `k`.
    fn of_multi(cols: &'a SlotCols, k: usize, chunk: &Chunk, row: usize) -> Result<Self> {
        let mut best = (0, f64::NEG_INFINITY);
        if let Some(p) = cols.posterior {
            for i in 0..k {
                let v = number(chunk, row, p, i)?;
                if v > best.1 {
                    best = (i, v);
                }
            }
        }
        let a = Assigned {
            cols,
            block: best.0,
            blocks: k,
            class: None,
            posterior: Some(best.1),
        };
        let class = match cols.class {
            Some(c) => slot_number(chunk, row, c, &a, 0)? as u64,
            None => best.0 as u64,
        };
        Ok(Assigned {
            class: Some(class),
            ..a
        })
    }

    /// `alignments_class_N` slots: the slot with the largest posterior.
    fn of_classes(slots: &'a [(u64, SlotCols)], chunk: &Chunk, row: usize) -> Result<Self> {
        let mut best: Option<(&(u64, SlotCols), f64)> = None;
        for s in slots {
            let v = match s.1.posterior {
                Some(p) => number(chunk, row, p, 0)?,
                None => f64::NEG_INFINITY,
            };
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((s, v));
            }
        }
        Ok(match best {
            Some(((n, cols), p)) => Assigned {
                cols,
                block: 0,
                blocks: 1,
                class: Some(match cols.class {
                    Some(c) => number(chunk, row, c, 0)? as u64,
                    None => *n,
                }),
                posterior: Some(p),
            },
            None => Assigned::unaligned(),
        })
    }
}

/// `rlnCoordinateX/Y` when the particles have locations.
fn coordinates(f: &mut Fields<'_>, opts: &MapOptions) -> Vec<Column> {
    let (Some(x), Some(y), Some(shape)) = (
        f.take("location/center_x_frac"),
        f.take("location/center_y_frac"),
        f.take("location/micrograph_shape"),
    ) else {
        return Vec::new();
    };
    // micrograph_shape is [y, x]; pyem's default "swap" multiplies X by shape[1].
    let (ax, ay) = if opts.swap_xy { (1, 0) } else { (0, 1) };
    vec![
        col(
            "rlnCoordinateX",
            Value::Coord {
                frac: x,
                shape,
                axis: ax,
                invert: opts.invert_x,
            },
        ),
        col(
            "rlnCoordinateY",
            Value::Coord {
                frac: y,
                shape,
                axis: ay,
                invert: opts.invert_y,
            },
        ),
    ]
}

/// The per-particle microscope columns of the RELION 3.0 layout.
fn relion2_microscope(f: &mut Fields<'_>) -> Vec<Column> {
    let mut cols = Vec::new();
    if let Some(v) = f.take("ctf/accel_kv") {
        cols.push(col("rlnVoltage", Value::Number(v, 0)));
    }
    if let Some(p) = f.take("blob/psize_A") {
        cols.push(col("rlnMagnification", Value::Const("10000.000000")));
        cols.push(col("rlnDetectorPixelSize", Value::Number(p, 0)));
    }
    cols
}

/// The per-particle CTF columns (for RELION 3.0 also voltage-independent optics).
fn ctf_columns(f: &mut Fields<'_>, relion2: bool) -> Vec<Column> {
    let mut cols = Vec::new();
    if let Some(c) = f.take("ctf/df1_A") {
        cols.push(col("rlnDefocusU", Value::Number(c, 0)));
    }
    if let Some(c) = f.take("ctf/df2_A") {
        cols.push(col("rlnDefocusV", Value::Number(c, 0)));
    }
    if let Some(c) = f.take("ctf/df_angle_rad") {
        cols.push(col("rlnDefocusAngle", Value::Degrees(c)));
    }
    if relion2 {
        if let Some(c) = f.take("ctf/cs_mm") {
            cols.push(col("rlnSphericalAberration", Value::Number(c, 0)));
        }
    }
    cols.push(match f.take("ctf/phase_shift_rad") {
        Some(c) => col("rlnPhaseShift", Value::Degrees(c)),
        None => col("rlnPhaseShift", Value::Const("0.000000")),
    });
    if relion2 {
        if let Some(c) = f.take("ctf/amp_contrast").or_else(|| f.take("ctf/ac")) {
            cols.push(col("rlnAmplitudeContrast", Value::Number(c, 0)));
        }
    }
    for (field, name) in [
        ("ctf/bfactor", "rlnCtfBfactor"),
        ("ctf/ctf_fit_to_A", "rlnCtfMaxResolution"),
        ("ctf/cross_corr_ctffind4", "rlnCtfFigureOfMerit"),
    ] {
        if let Some(c) = f.take(field) {
            cols.push(col(name, Value::Number(c, 0)));
        }
    }
    cols
}

/// The optics table of RELION 3.1: values of the first particle of each exposure group.
fn optics_columns(f: &mut Fields<'_>, group: Option<Col>) -> Vec<Column> {
    let mut cols = Vec::new();
    if let Some(c) = f.take("ctf/accel_kv") {
        cols.push(col("rlnVoltage", Value::Number(c, 0)));
    }
    if let Some(c) = f.take("blob/psize_A") {
        cols.push(col("rlnImagePixelSize", Value::Number(c, 0)));
    }
    let cs = f.take("ctf/cs_mm");
    if let Some(c) = cs {
        cols.push(col("rlnSphericalAberration", Value::Number(c, 0)));
    }
    if let Some(c) = f.take("ctf/amp_contrast").or_else(|| f.take("ctf/ac")) {
        cols.push(col("rlnAmplitudeContrast", Value::Number(c, 0)));
    }
    cols.push(col("rlnOpticsGroup", Value::OpticsGroup(group)));
    if let Some(c) = f.take("blob/shape") {
        cols.push(col("rlnImageSize", Value::Integer(c)));
    }
    cols.push(col("rlnImageDimensionality", Value::Const("2")));
    cols.push(col("rlnOpticsGroupName", Value::OpticsGroupName(group)));
    // Beam tilt needs Cs: without it, tilt_A stays unused (and is named on stderr).
    if let Some((cs, tilt)) = cs.and_then(|cs| Some((cs, f.take("ctf/tilt_A")?))) {
        for (axis, name) in ["rlnBeamTiltX", "rlnBeamTiltY"].into_iter().enumerate() {
            cols.push(col(name, Value::BeamTilt { tilt, cs, axis }));
        }
    }
    if let Some(m) = f.take("ctf/anisomag") {
        let names = ["rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11"];
        for (i, name) in names.into_iter().enumerate().take(m.count) {
            cols.push(col(name, Value::Number(m, i)));
        }
    }
    cols
}

fn group_of(chunk: &Chunk, row: usize, g: Option<Col>) -> Result<u64> {
    match g {
        Some(c) => Ok(number(chunk, row, c, 0)? as u64),
        None => Ok(0),
    }
}

/// A coordinate in pixels: as pyem, `1 − frac` (when inverted) in float32, then × element
/// `axis` of `shape` (the micrograph's), rounded half to even.
fn coordinate(
    chunk: &Chunk,
    row: usize,
    frac: Col,
    (shape, axis): (Col, usize),
    invert: bool,
) -> Result<i64> {
    let mut v = number(chunk, row, frac, 0)? as f32;
    if invert {
        v = 1.0 - v;
    }
    let px = (f64::from(v) * number(chunk, row, shape, axis)?).round_ties_even();
    Ok(px as i64)
}

/// The shift along `axis` in Å (× the alignment's pixel size), or for RELION 3.0 in pixels of
/// the image (`image_psize`).
fn origin(
    chunk: &Chunk,
    row: usize,
    a: &Assigned<'_>,
    axis: usize,
    image_psize: Option<Col>,
) -> Result<f64> {
    let shift = match a.cols.shift {
        Some(s) => slot_number(chunk, row, s, a, axis)?,
        None => 0.0,
    };
    let psize = match a.cols.psize {
        Some(p) => Some(slot_number(chunk, row, p, a, 0)?),
        None => None,
    };
    Ok(match (psize, image_psize) {
        // RELION 3.0: pixels of the image (the same as the shift's unless the particles were
        // resampled after alignment).
        (Some(s), Some(i)) => shift * s / number(chunk, row, i, 0)?,
        (None, Some(_)) => shift,
        (Some(s), None) => shift * s,
        (None, None) => shift,
    })
}

fn scalar_f64(s: &Scalar<'_>) -> f64 {
    match *s {
        Scalar::Int(v) => v as f64,
        Scalar::UInt(v) => v as f64,
        Scalar::F32(v) => f64::from(v),
        Scalar::F64(v) => v,
        _ => f64::NAN,
    }
}

/// Element `i` of a numeric cell as f64 (NaN for text; an element past the end is 0).
fn number(chunk: &Chunk, row: usize, c: Col, i: usize) -> Result<f64> {
    if i >= c.count {
        return Ok(0.0);
    }
    Ok(scalar_f64(&chunk.scalar(row, c.at, i)?))
}

/// Element `i` of the assigned class's block of a per-class subarray (`alignments3D_multi`),
/// or of a plain cell when the field is not per class (`alignments3D_multi/split`).
fn slot_number(chunk: &Chunk, row: usize, c: Col, a: &Assigned<'_>, i: usize) -> Result<f64> {
    let per = if a.blocks > 1 && c.count >= a.blocks {
        c.count / a.blocks
    } else {
        0
    };
    number(chunk, row, c, a.block * per + i)
}

/// A text cell.
fn text(chunk: &Chunk, row: usize, c: Col) -> Result<String> {
    Ok(match chunk.scalar(row, c.at, 0)? {
        Scalar::Str(s) => s.into_owned(),
        other => scalar_f64(&other).to_string(),
    })
}

/// The fields left out, grouped by slot (`alignments_class_N` slots together), for the note on
/// stderr: `alignments3D: error, error_min (2); uid`.
pub fn left_out_note(names: &[String]) -> String {
    let mut groups: BTreeMap<String, (BTreeSet<usize>, Vec<String>)> = BTreeMap::new();
    for name in names {
        let (slot, field) = name.split_once('/').unwrap_or((name, ""));
        let digits = slot.trim_end_matches(|c: char| c.is_ascii_digit());
        let (key, n) = if digits.len() < slot.len() && digits.ends_with('_') {
            (format!("{digits}N"), slot[digits.len()..].parse().ok())
        } else {
            (slot.to_string(), None)
        };
        let e = groups.entry(key).or_default();
        if let Some(n) = n {
            e.0.insert(n);
        }
        if !field.is_empty() && !e.1.iter().any(|x| x == field) {
            e.1.push(field.to_string());
        }
    }
    groups
        .into_iter()
        .map(|(slot, (ns, fields))| {
            let slot = match (ns.first(), ns.last()) {
                (Some(a), Some(b)) if ns.len() > 1 => {
                    format!("{slot} (N = {a}..{b}, {} slots)", ns.len())
                }
                _ => slot,
            };
            if fields.is_empty() {
                slot
            } else {
                format!("{slot}: {} ({})", fields.join(", "), fields.len())
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
