//! `job.json`: the parts of cryoSPARC's job document that data management needs, read from both
//! layouts (v4 `JobDocument`, v5 `Job` model; FORMATS.md §8), the edit a clear makes to it
//! (dropping cleared result versions) and the way csutils writes it ([`to_json_text`]). The
//! other edits — the exported form, a job an import makes, a job moved to another project —
//! are in [`super::documents`].

use crate::error::{Error, Place, Result};
use serde_json::{Map, Value};

/// Statuses of a job that is (or may soon be) writing into its folder.
pub const ACTIVE_STATUSES: [&str; 5] = ["launched", "started", "running", "waiting", "queued"];

/// Key where csutils lists files a clear has unregistered but not yet removed (see the README).
pub const PENDING_KEY: &str = "csutils_clear_pending";

/// Which layout a `job.json` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobFormat {
    /// v4 `JobDocument`: `output_results`, `input_slot_groups`.
    V4,
    /// v5 `Job` model: `spec.outputs`, `spec.inputs`.
    V5,
}

impl JobFormat {
    /// `"v4"` or `"v5"`.
    pub fn name(self) -> &'static str {
        match self {
            JobFormat::V4 => "v4",
            JobFormat::V5 => "v5",
        }
    }
}

/// A version named by a connection: the final one, or a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `"F"`.
    Final,
    /// An explicit version number.
    Number(u64),
}

/// One result slot of an output and its versions, each with its metafile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputResult {
    /// Output (group) name: `particles`.
    pub group: String,
    /// Result (slot) name: `alignments3D`.
    pub name: String,
    /// Result type: `particle.alignments3D`.
    pub result_type: String,
    /// Passed through unchanged from an input.
    pub passthrough: bool,
    /// Version numbers, in order; the last is the final one.
    pub versions: Vec<u64>,
    /// Metafile of each version, relative to the project folder.
    pub metafiles: Vec<String>,
    /// Rows of the final version, as recorded (v4 `num_items`; the last of v5's list).
    pub num_items: Option<u64>,
}

impl OutputResult {
    /// The metafile of a version: the last for `Final` (the first for a passthrough, as
    /// cryoSPARC loads it), else the one whose number is `v`.
    pub fn metafile(&self, version: Version) -> Option<&str> {
        let i = match version {
            Version::Final if self.passthrough => 0,
            Version::Final => self.metafiles.len().checked_sub(1)?,
            Version::Number(v) => self.versions.iter().position(|&x| x == v)?,
        };
        self.metafiles.get(i).map(String::as_str)
    }
}

/// An output (result group) of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputGroup {
    /// `particles`.
    pub name: String,
    /// Datatype: `particle`.
    pub group_type: String,
    /// Title, or empty.
    pub title: String,
    /// Description, or empty.
    pub description: String,
}

/// One result an input connection takes from another job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputResult {
    /// The job it comes from.
    pub job: String,
    /// That job's output (group) name.
    pub group: String,
    /// That output's result name.
    pub result: String,
    /// Which version.
    pub version: Version,
}

/// What csutils reads from a `job.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Layout of the file.
    pub format: JobFormat,
    /// `J42` (empty when the document has none; [`crate::project::Project::open`] then uses the
    /// folder's name).
    pub uid: String,
    /// `P3`, or empty.
    pub project_uid: String,
    /// Job type: `homo_refine_new` (from `type` or its alias `job_type`), or empty.
    pub job_type: String,
    /// Title, or empty.
    pub title: String,
    /// Status: `completed`, `running`, … (empty when the document has none: unknown, so
    /// possibly running).
    pub status: String,
    /// cryoSPARC version that ran the job (`v4.6.0`), or empty.
    pub version: String,
    /// Output groups, in file order.
    pub groups: Vec<OutputGroup>,
    /// Output results, in file order.
    pub outputs: Vec<OutputResult>,
    /// Results taken from other jobs through input connections.
    pub inputs: Vec<InputResult>,
    /// Files an interrupted clear unregistered but did not remove (csutils' own key).
    pub pending_deletions: Vec<String>,
}

impl Job {
    /// True when the job may be writing into its folder (launched, started, running, waiting,
    /// queued).
    pub fn is_active(&self) -> bool {
        ACTIVE_STATUSES.contains(&self.status.as_str())
    }

    /// Every registered metafile of every output, each once, in order.
    pub fn metafiles(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.outputs
            .iter()
            .flat_map(|r| r.metafiles.iter())
            .map(String::as_str)
            .filter(|m| seen.insert(*m))
            .collect()
    }

    /// The output groups that have results with metafiles, in order.
    pub fn output_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for r in self.outputs.iter().filter(|r| !r.metafiles.is_empty()) {
            if !names.contains(&r.group) {
                names.push(r.group.clone());
            }
        }
        names
    }

    /// The metafiles (project-relative) that make up output `group` at `version` (None: the
    /// final one), each once, in result order, as cryoSPARC's `load_output` picks them: a
    /// passthrough result's first metafile, another result's metafile of that version.
    pub fn output_metafiles(
        &self,
        group: &str,
        version: Option<u64>,
    ) -> std::result::Result<Vec<String>, String> {
        let results: Vec<&OutputResult> = self
            .outputs
            .iter()
            .filter(|r| r.group == group && !r.metafiles.is_empty())
            .collect();
        if results.is_empty() {
            let names = self.output_names();
            return Err(format!(
                "{} has no output '{group}'; its outputs are: {}",
                self.uid,
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            ));
        }
        let mut files: Vec<String> = Vec::new();
        for r in results {
            let want = match version {
                Some(v) if !r.passthrough => Version::Number(v),
                _ => Version::Final,
            };
            let Some(m) = r.metafile(want) else {
                return Err(format!(
                    "{} {group}/{} has no version {}; it has {:?}",
                    self.uid,
                    r.name,
                    version.unwrap_or_default(),
                    r.versions
                ));
            };
            if !files.iter().any(|f| f == m) {
                files.push(m.to_string());
            }
        }
        Ok(files)
    }

    /// The result `group`/`name`.
    pub fn output(&self, group: &str, name: &str) -> Option<&OutputResult> {
        self.outputs
            .iter()
            .find(|r| r.group == group && r.name == name)
    }

    /// Parse a `job.json` text (either layout), reading what is there ([`Job::from_value`]).
    pub fn parse(text: &str) -> Result<Job> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| Error::new(Place::Line(e.line() as u64), format!("not JSON: {e}")))?;
        Job::from_value(&doc)
    }

    /// Read a parsed `job.json` document (either layout; FORMATS.md §8.3). Only what a result
    /// needs is required: `uid`, the type (`type` or its alias `job_type`), `status`,
    /// `project_uid`, `title` and `version` may be missing or null (they are then empty), and
    /// so may every list (`output_results: null` is no outputs). A key that is there with the
    /// wrong kind of value, and an output or connection that lacks what names it, is an error
    /// naming the key.
    pub fn from_value(doc: &Value) -> Result<Job> {
        let top = doc
            .as_object()
            .ok_or_else(|| Error::in_whole_file("is not a JSON object"))?;
        let spec = match top.get("spec") {
            None | Some(Value::Null) => None,
            Some(s) => Some(object(s, "spec")?),
        };
        let mut job = Job {
            format: if spec.is_some() {
                JobFormat::V5
            } else {
                JobFormat::V4
            },
            uid: optional(top, "uid", "uid")?,
            project_uid: optional_string(top, "project_uid"),
            job_type: job_type(top, spec)?,
            title: optional_string(top, "title"),
            status: optional(top, "status", "status")?,
            version: optional_string(top, "version"),
            groups: Vec::new(),
            outputs: Vec::new(),
            inputs: Vec::new(),
            pending_deletions: Vec::new(),
        };
        match spec {
            Some(spec) => read_v5(spec, &mut job)?,
            None => read_v4(top, &mut job)?,
        }
        if let Some(p) = top.get(PENDING_KEY).filter(|p| !p.is_null()) {
            job.pending_deletions = strings(p, PENDING_KEY)?;
        }
        Ok(job)
    }

    /// Read a parsed `job.json` that must be a whole job document: as [`Job::from_value`], and
    /// it must name its `uid`, its type (`type` or `job_type`) and its `status` (what an
    /// imported or exported job needs).
    pub fn from_document(doc: &Value) -> Result<Job> {
        let job = Job::from_value(doc)?;
        let missing = if job.uid.is_empty() {
            "uid"
        } else if job.job_type.is_empty() {
            "type"
        } else if job.status.is_empty() {
            "status"
        } else {
            return Ok(job);
        };
        let what = match missing {
            "type" => "is missing (neither \"type\" nor \"job_type\" is there)",
            _ => "is missing",
        };
        Err(Error::new(Place::Key(missing.into()), what))
    }
}

/// The keys that name a job's type, in the order they are taken: v5's `spec.type` (and
/// `spec.job_type`), then the top-level `type` and its alias `job_type` (cryosparc-tools treats
/// them as one; when both are there and differ, `type` wins).
const TYPE_KEYS: [(bool, &str, &str); 4] = [
    (true, "type", "spec.type"),
    (true, "job_type", "spec.job_type"),
    (false, "type", "type"),
    (false, "job_type", "job_type"),
];

/// The job type: the first of [`TYPE_KEYS`] that holds a string, or empty when none is there.
fn job_type(top: &Map<String, Value>, spec: Option<&Map<String, Value>>) -> Result<String> {
    for (in_spec, key, place) in TYPE_KEYS {
        let obj = if in_spec { spec } else { Some(top) };
        if let Some(obj) = obj {
            let found = optional(obj, key, place)?;
            if !found.is_empty() {
                return Ok(found);
            }
        }
    }
    Ok(String::new())
}

/// A string key that may be missing or null (then empty), but not of another kind.
fn optional(obj: &Map<String, Value>, key: &str, place: &str) -> Result<String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Error::new(Place::Key(place.into()), "is not a string")),
    }
}

fn string(obj: &Map<String, Value>, key: &str, place: &str) -> Result<String> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(Error::new(Place::Key(place.into()), "is not a string")),
        None => Err(Error::new(Place::Key(place.into()), "is missing")),
    }
}

fn optional_string(obj: &Map<String, Value>, key: &str) -> String {
    obj.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn array<'a>(obj: &'a Map<String, Value>, key: &str, place: &str) -> Result<&'a [Value]> {
    match obj.get(key) {
        Some(Value::Array(a)) => Ok(a),
        None | Some(Value::Null) => Ok(&[]),
        Some(_) => Err(Error::new(Place::Key(place.into()), "is not a list")),
    }
}

fn object<'a>(v: &'a Value, place: &str) -> Result<&'a Map<String, Value>> {
    v.as_object()
        .ok_or_else(|| Error::new(Place::Key(place.into()), "is not an object"))
}

fn strings(v: &Value, place: &str) -> Result<Vec<String>> {
    let items = v
        .as_array()
        .ok_or_else(|| Error::new(Place::Key(place.into()), "is not a list"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.as_str()
                .map(str::to_string)
                .ok_or_else(|| Error::new(Place::Key(format!("{place}[{i}]")), "is not a string"))
        })
        .collect()
}

fn versions(obj: &Map<String, Value>, place: &str) -> Result<(Vec<u64>, Vec<String>)> {
    let versions: Vec<u64> = array(obj, "versions", &format!("{place}.versions"))?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_u64().ok_or_else(|| {
                Error::new(
                    Place::Key(format!("{place}.versions[{i}]")),
                    "is not a version number",
                )
            })
        })
        .collect::<Result<_>>()?;
    let metafiles = match obj.get("metafiles") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => strings(v, &format!("{place}.metafiles"))?,
    };
    if metafiles.len() != versions.len() {
        return Err(Error::new(
            Place::Key(format!("{place}.metafiles")),
            format!(
                "lists {} metafiles for {} versions",
                metafiles.len(),
                versions.len()
            ),
        ));
    }
    Ok((versions, metafiles))
}

/// `num_items` of a result: an int (v4) or one per version (v5, the last is the final's).
fn num_items(r: &Map<String, Value>) -> Option<u64> {
    match r.get("num_items")? {
        Value::Array(a) => a.last().and_then(Value::as_u64),
        v => v.as_u64(),
    }
}

fn version_of(v: Option<&Value>, place: &str) -> Result<Version> {
    match v {
        None | Some(Value::Null) => Ok(Version::Final),
        Some(Value::String(s)) if s == "F" => Ok(Version::Final),
        Some(v) => v.as_u64().map(Version::Number).ok_or_else(|| {
            Error::new(
                Place::Key(place.into()),
                format!("is {v}, not \"F\" or a version number"),
            )
        }),
    }
}

fn read_v4(top: &Map<String, Value>, job: &mut Job) -> Result<()> {
    for (i, g) in array(top, "output_result_groups", "output_result_groups")?
        .iter()
        .enumerate()
    {
        let place = format!("output_result_groups[{i}]");
        let g = object(g, &place)?;
        job.groups.push(OutputGroup {
            name: string(g, "name", &format!("{place}.name"))?,
            group_type: optional_string(g, "type"),
            title: optional_string(g, "title"),
            description: optional_string(g, "description"),
        });
    }
    for (i, r) in array(top, "output_results", "output_results")?
        .iter()
        .enumerate()
    {
        let place = format!("output_results[{i}]");
        let r = object(r, &place)?;
        let (versions, metafiles) = versions(r, &place)?;
        job.outputs.push(OutputResult {
            group: string(r, "group_name", &format!("{place}.group_name"))?,
            name: string(r, "name", &format!("{place}.name"))?,
            result_type: optional_string(r, "type"),
            passthrough: r.get("passthrough").and_then(Value::as_bool) == Some(true),
            versions,
            metafiles,
            num_items: num_items(r),
        });
    }
    for (g, group) in array(top, "input_slot_groups", "input_slot_groups")?
        .iter()
        .enumerate()
    {
        let gplace = format!("input_slot_groups[{g}]");
        let group = object(group, &gplace)?;
        for (c, conn) in array(group, "connections", &format!("{gplace}.connections"))?
            .iter()
            .enumerate()
        {
            let cplace = format!("{gplace}.connections[{c}]");
            let conn = object(conn, &cplace)?;
            for (s, slot) in array(conn, "slots", &format!("{cplace}.slots"))?
                .iter()
                .enumerate()
            {
                let place = format!("{cplace}.slots[{s}]");
                let slot = object(slot, &place)?;
                job.inputs.push(InputResult {
                    job: string(slot, "job_uid", &format!("{place}.job_uid"))?,
                    group: string(slot, "group_name", &format!("{place}.group_name"))?,
                    result: string(slot, "result_name", &format!("{place}.result_name"))?,
                    version: version_of(slot.get("version"), &format!("{place}.version"))?,
                });
            }
        }
    }
    Ok(())
}

fn read_v5(spec: &Map<String, Value>, job: &mut Job) -> Result<()> {
    if let Some(outputs) = spec.get("outputs").filter(|v| !v.is_null()) {
        for (group, output) in object(outputs, "spec.outputs")? {
            let oplace = format!("spec.outputs.{group}");
            let output = object(output, &oplace)?;
            let group_type = optional_string(output, "type");
            job.groups.push(OutputGroup {
                name: group.clone(),
                group_type: group_type.clone(),
                title: optional_string(output, "title"),
                description: optional_string(output, "description"),
            });
            for (i, r) in array(output, "results", &format!("{oplace}.results"))?
                .iter()
                .enumerate()
            {
                let place = format!("{oplace}.results[{i}]");
                let r = object(r, &place)?;
                let (versions, metafiles) = versions(r, &place)?;
                job.outputs.push(OutputResult {
                    group: group.clone(),
                    name: string(r, "name", &format!("{place}.name"))?,
                    result_type: format!("{group_type}.{}", optional_string(r, "dtype")),
                    passthrough: r.get("passthrough").and_then(Value::as_bool) == Some(true),
                    versions,
                    metafiles,
                    num_items: num_items(r),
                });
            }
        }
    }
    if let Some(inputs) = spec.get("inputs").filter(|v| !v.is_null()) {
        for (name, input) in object(inputs, "spec.inputs")? {
            let iplace = format!("spec.inputs.{name}");
            let input = object(input, &iplace)?;
            for (c, conn) in array(input, "connections", &format!("{iplace}.connections"))?
                .iter()
                .enumerate()
            {
                let cplace = format!("{iplace}.connections[{c}]");
                let conn = object(conn, &cplace)?;
                for (s, r) in array(conn, "results", &format!("{cplace}.results"))?
                    .iter()
                    .enumerate()
                {
                    let place = format!("{cplace}.results[{s}]");
                    let r = object(r, &place)?;
                    job.inputs.push(InputResult {
                        job: string(r, "job_uid", &format!("{place}.job_uid"))?,
                        group: string(r, "output", &format!("{place}.output"))?,
                        result: string(r, "result", &format!("{place}.result"))?,
                        version: version_of(r.get("version"), &format!("{place}.version"))?,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Remove versions from a parsed `job.json` (either layout): `removed(group, result, version)`
/// says which. The `versions` and `metafiles` lists (and v5's per-version `num_items`) keep
/// the remaining entries in order, so a version number still finds its metafile by value.
pub fn remove_versions(doc: &mut Value, removed: &dyn Fn(&str, &str, u64) -> bool) {
    let prune = |group: &str, r: &mut Map<String, Value>| {
        let Some(name) = r.get("name").and_then(Value::as_str).map(str::to_string) else {
            return;
        };
        let Some(versions) = r.get("versions").and_then(Value::as_array).cloned() else {
            return;
        };
        let keep: Vec<bool> = versions
            .iter()
            .map(|v| v.as_u64().is_none_or(|v| !removed(group, &name, v)))
            .collect();
        for key in ["versions", "metafiles", "num_items"] {
            if let Some(Value::Array(items)) = r.get_mut(key) {
                if items.len() == keep.len() {
                    let mut k = keep.iter();
                    items.retain(|_| *k.next().unwrap_or(&true));
                }
            }
        }
    };
    if let Some(Value::Object(outputs)) = doc.pointer_mut("/spec/outputs") {
        for (group, output) in outputs.iter_mut() {
            if let Some(Value::Array(results)) = output.get_mut("results") {
                for r in results.iter_mut().filter_map(Value::as_object_mut) {
                    prune(group, r);
                }
            }
        }
    } else if let Some(Value::Array(results)) = doc.get_mut("output_results") {
        for r in results.iter_mut().filter_map(Value::as_object_mut) {
            let group = r
                .get("group_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            prune(&group, r);
        }
    }
}

/// A JSON document as cryoSPARC writes `job.json` and `project.json`: four-space indent, a
/// final newline.
pub fn to_json_text(doc: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serializing a Value into memory cannot fail.
    let _ = serde::Serialize::serialize(doc, &mut ser);
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: &str = r#"{"uid":"J9","project_uid":"P3","type":"homo_refine_new","status":"completed",
      "output_results":[{"group_name":"particles","name":"alignments3D","passthrough":false,
        "versions":[0,1,2],"metafiles":["J9/a.cs","J9/b.cs","J9/c.cs"],"num_items":5}],
      "input_slot_groups":[{"connections":[{"job_uid":"J6","group_name":"particles","slots":[
        {"slot_name":"blob","job_uid":"J6","group_name":"particles","result_name":"blob","version":3},
        {"slot_name":null,"job_uid":"J6","group_name":"particles","result_name":"ctf","version":"F"}]}]}]}"#;

    #[test]
    fn reads_v4_outputs_and_connections() {
        let job = Job::parse(V4).unwrap();
        assert_eq!(job.format, JobFormat::V4);
        assert_eq!(job.outputs[0].metafile(Version::Final), Some("J9/c.cs"));
        assert_eq!(job.outputs[0].metafile(Version::Number(1)), Some("J9/b.cs"));
        assert_eq!(job.inputs[0].version, Version::Number(3));
        assert_eq!(job.inputs[1].version, Version::Final);
        assert!(!job.is_active());
    }

    #[test]
    fn removing_versions_keeps_lookup_by_number() {
        let mut doc: Value = serde_json::from_str(V4).unwrap();
        remove_versions(&mut doc, &|_, _, v| v == 0);
        let job = Job::from_value(&doc).unwrap();
        assert_eq!(job.outputs[0].versions, vec![1, 2]);
        assert_eq!(job.outputs[0].metafile(Version::Number(1)), Some("J9/b.cs"));
        assert_eq!(job.outputs[0].metafile(Version::Number(0)), None);
    }

    #[test]
    fn type_and_job_type_are_aliases_and_type_wins() {
        let only_alias = V4.replace(
            r#""type":"homo_refine_new""#,
            r#""job_type":"homo_refine_new""#,
        );
        assert_eq!(Job::parse(&only_alias).unwrap().job_type, "homo_refine_new");
        let both = V4.replace(r#""type":"#, r#""job_type":"other","type":"#);
        assert_eq!(Job::parse(&both).unwrap().job_type, "homo_refine_new");
        let v5 = r#"{"uid":"J1","spec":{"job_type":"class_2D_new"},"type":"ignored"}"#;
        assert_eq!(Job::parse(v5).unwrap().job_type, "class_2D_new");
        let e = Job::parse(r#"{"uid":"J1","job_type":7}"#).unwrap_err();
        assert_eq!(e.place, Place::Key("job_type".into()));
    }

    #[test]
    fn only_what_a_result_needs_is_required() {
        let job = Job::parse(r#"{"output_results":null,"input_slot_groups":null}"#).unwrap();
        assert_eq!((job.uid.as_str(), job.status.as_str()), ("", ""));
        assert!(job.outputs.is_empty() && job.inputs.is_empty());
        let v5 =
            r#"{"spec":{"type":"t","outputs":null,"inputs":null},"csutils_clear_pending":null}"#;
        assert_eq!(Job::parse(v5).unwrap().format, JobFormat::V5);
        let e = Job::parse(r#"{"output_results":[{"name":"blob"}]}"#).unwrap_err();
        assert_eq!(e.place, Place::Key("output_results[0].group_name".into()));
    }

    #[test]
    fn a_job_document_needs_a_uid_a_type_and_a_status() {
        let doc: Value = serde_json::from_str(V4).unwrap();
        assert!(Job::from_document(&doc).is_ok());
        for key in ["uid", "type", "status"] {
            let mut d = doc.clone();
            d.as_object_mut().unwrap().remove(key);
            let e = Job::from_document(&d).unwrap_err();
            assert_eq!(e.place, Place::Key(key.into()), "{key}");
            assert!(e.what.starts_with("is missing"), "{e}");
        }
    }

    #[test]
    fn mismatched_lists_name_the_key() {
        let bad = V4.replace(r#""J9/b.cs","#, "");
        let e = Job::parse(&bad).unwrap_err();
        assert_eq!(e.place, Place::Key("output_results[0].metafiles".into()));
    }
}
