//! `job.json` and `project.json` as csutils writes them (reading them: [`super::job`],
//! [`super::read_project_doc`]; `workspaces.json`: [`super::workspaces`]). Every edit keeps
//! the keys it does not name, in their order, and adds a key only where cryoSPARC has it:
//! - the exported form of a job document ([`exported_job_document`]), and one read back from an
//!   export ([`ExportedJob`]);
//! - the document of a job an import makes, in the v4 or the v5 layout ([`NewJob`],
//!   [`ImportedOutputs`]);
//! - a job and a project moved under a new project uid ([`move_job`], [`move_project`]), with
//!   the job statistics recounted ([`CountedJob`]).

use super::csg::Csg;
use super::job::Job;
use crate::error::{Error, Place, Result};
use serde_json::{json, Map, Value};

/// Keys Export Job leaves out of the exported `job.json`.
pub const EXPORT_STRIP_KEYS: [&str; 8] = [
    "queued_to_lane",
    "resources_allocated",
    "interactive_hostname",
    "ui_layouts",
    "parents",
    "children",
    "output_result_groups",
    "output_results",
];

/// A job document as Export Job writes it: [`EXPORT_STRIP_KEYS`] removed, every other key kept
/// in its order.
pub fn exported_job_document(doc: &mut Value) {
    if let Some(obj) = doc.as_object_mut() {
        for k in EXPORT_STRIP_KEYS {
            obj.shift_remove(k);
        }
    }
}

/// The folder Export Job writes a job's export to: `<project>_<job>_<type>`
/// (`P3_J8_homo_refine_new`).
pub fn export_name(project_uid: &str, job: &Job) -> String {
    format!("{project_uid}_{}_{}", job.uid, job.job_type)
}

/// An exported `job.json` that is a job document: a JSON object with a non-empty string `uid`,
/// a type and a `status`. The type is the first of `type`, its alias `job_type` (as
/// cryosparc-tools reads it) and v5's `spec.type` that is there, and must be a non-empty
/// string. Every key, known or not, is kept.
#[derive(Debug, Clone)]
pub struct ExportedJob {
    /// The whole document.
    pub doc: Map<String, Value>,
    /// Its type.
    pub job_type: String,
}

impl ExportedJob {
    /// Check a parsed exported `job.json`; an error names the key (the caller names the file).
    pub fn from_value(doc: Value) -> Result<ExportedJob> {
        let refuse = |place: Place, what: &str| {
            Error::new(
                place,
                format!("{what}; a job document has a uid, a type and a status"),
            )
        };
        let Value::Object(doc) = doc else {
            return Err(refuse(Place::File, "is not a JSON object"));
        };
        if text(doc.get("uid")).is_none() {
            return Err(refuse(
                Place::Key("uid".into()),
                "missing, empty or not a string",
            ));
        }
        let spec_type = doc.get("spec").and_then(|s| s.get("type"));
        let found = [
            ("type", doc.get("type")),
            ("job_type", doc.get("job_type")),
            ("spec.type", spec_type),
        ]
        .into_iter()
        .find_map(|(k, v)| v.map(|v| (k, text(Some(v)))));
        let job_type = match found {
            Some((_, Some(t))) => t,
            Some((k, None)) => return Err(refuse(Place::Key(k.into()), "empty or not a string")),
            None => {
                return Err(refuse(
                    Place::Key("type".into()),
                    "missing (nor job_type, nor spec.type)",
                ))
            }
        };
        if text(doc.get("status")).is_none() {
            return Err(refuse(
                Place::Key("status".into()),
                "missing or not a string",
            ));
        }
        Ok(ExportedJob { doc, job_type })
    }

    /// The string at top-level `key`, or empty.
    pub fn text(&self, key: &str) -> &str {
        self.doc
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// A non-empty string value.
fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The outputs of a job an import makes, one group at a time, as v4's `output_result_groups`
/// and `output_results` entries (turned into v5's `spec.outputs` for a v5 document).
#[derive(Debug, Default)]
pub struct ImportedOutputs {
    groups: Vec<Value>,
    results: Vec<Value>,
}

impl ImportedOutputs {
    /// Add the output group `csg` of job `job_uid`: each of its results, version 0, in the one
    /// metafile `metafile` (project-relative: `J12/J12_imported_particles.cs`) of `rows` rows.
    /// Results are numbered `J12-R1`, `J12-R2`… across groups, groups `J12-G1`, `J12-G2`…
    pub fn add(&mut self, job_uid: &str, csg: &Csg, metafile: &str, rows: u64) {
        let group = &csg.group.name;
        let mut contains = Vec::new();
        for (name, r) in &csg.results {
            let ruid = format!("{job_uid}-R{}", self.results.len() + 1);
            self.results.push(json!({
                "uid": ruid, "type": r.ty, "name": name, "group_name": group,
                "title": name, "description": "", "versions": [0],
                "metafiles": [metafile], "min_fields": [],
                "num_items": rows, "passthrough": false,
            }));
            contains.push(
                json!({"uid": ruid, "type": r.ty, "name": name, "group_name": group, "passthrough": false}),
            );
        }
        self.groups.push(json!({
            "uid": format!("{job_uid}-G{}", self.groups.len() + 1),
            "type": csg.group.ty, "name": group,
            "title": csg.group.title.clone().unwrap_or_default(),
            "description": csg.group.description.clone().unwrap_or_default(),
            "contains": contains, "passthrough": false, "num_items": rows, "summary": {},
        }));
    }

    /// v5 `spec.outputs`: one entry per group, its results as slots and results.
    fn v5(&self) -> Value {
        let mut outputs = Map::new();
        for g in &self.groups {
            let name = g["name"].as_str().unwrap_or_default().to_string();
            let mine: Vec<&Value> = self
                .results
                .iter()
                .filter(|r| r["group_name"] == g["name"])
                .collect();
            let dtype = |r: &Value| {
                let t = r["type"].as_str().unwrap_or_default();
                t.split_once('.').map_or(t, |(_, d)| d).to_string()
            };
            let slots: Vec<Value> = mine
                .iter()
                .map(|r| json!({"name": r["name"], "dtype": dtype(r)}))
                .collect();
            let results: Vec<Value> = mine
                .iter()
                .map(|r| {
                    json!({
                        "name": r["name"], "dtype": dtype(r), "versions": [0],
                        "metafiles": r["metafiles"], "num_items": [r["num_items"]],
                        "passthrough": false,
                    })
                })
                .collect();
            outputs.insert(
                name,
                json!({
                    "type": g["type"], "title": g["title"], "description": g["description"],
                    "slots": slots, "passthrough": null, "results": results,
                    "num_items": g["num_items"], "image": null, "summary": {},
                    "latest_summary_stats": {},
                }),
            );
        }
        Value::Object(outputs)
    }
}

/// What an import says of the job it makes.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    /// `J12`.
    pub uid: &'a str,
    /// 12.
    pub number: u64,
    /// The project it is made in (`P3`).
    pub project_uid: &'a str,
    /// That project's number.
    pub project_number: u64,
    /// The workspace it joins (`W1`).
    pub workspace: &'a str,
    /// Its type, written only when the base document names none (`import_result_group`).
    pub job_type: &'a str,
    /// Where it came from (our `csutils_imported_from`).
    pub imported_from: &'a Value,
    /// The time of the import (ISO 8601).
    pub now: &'a str,
}

impl NewJob<'_> {
    /// The new job's document, from `base` (an exported job document, every key kept and the
    /// type under the key it had; or an empty object): the new `uid`/`uid_num`, the project's
    /// `project_uid`/`project_uid_num`, status `completed`, no parents, children or inputs,
    /// `workspace_uids` `[W]`, the outputs (v4 `output_result_groups`/`output_results`, or
    /// `spec.outputs` when `base` is a v5 document), `imported_at`, `created_at` (when `base`
    /// has none), `completed_at` and `csutils_imported_from`.
    pub fn document(&self, mut base: Map<String, Value>, outputs: &ImportedOutputs) -> Value {
        base.insert("uid".into(), json!(self.uid));
        base.insert("uid_num".into(), json!(self.number));
        base.insert("project_uid".into(), json!(self.project_uid));
        base.insert("project_uid_num".into(), json!(self.project_number));
        if !["type", "job_type", "spec"]
            .iter()
            .any(|k| base.contains_key(*k))
        {
            base.insert("type".into(), json!(self.job_type));
            base.insert("job_type".into(), json!(self.job_type));
        }
        base.insert("status".into(), json!("completed"));
        base.insert("parents".into(), json!([]));
        base.insert("children".into(), json!([]));
        base.insert("workspace_uids".into(), json!([self.workspace]));
        if let Some(Value::Object(spec)) = base.get_mut("spec") {
            // v5 layout: the outputs live in spec.outputs, one entry per group.
            spec.insert("inputs".into(), json!({}));
            spec.insert("outputs".into(), outputs.v5());
            base.insert("job_dir".into(), json!(self.uid));
        } else {
            base.insert("input_slot_groups".into(), json!([]));
            base.insert("output_result_groups".into(), json!(outputs.groups));
            base.insert("output_results".into(), json!(outputs.results));
        }
        base.insert("imported_at".into(), json!(self.now));
        if !base.contains_key("created_at") {
            base.insert("created_at".into(), json!(self.now));
        }
        base.insert("completed_at".into(), json!(self.now));
        base.insert("csutils_imported_from".into(), self.imported_from.clone());
        Value::Object(base)
    }
}

/// Say in a document (a job's, or a workspace's in `workspaces.json`) that it belongs to
/// project `uid`: `project_uid`, and `project_uid_num` where the document has it.
pub fn set_project(doc: &mut Map<String, Value>, uid: &str, number: u64) {
    doc.insert("project_uid".into(), json!(uid));
    if doc.contains_key("project_uid_num") {
        doc.insert("project_uid_num".into(), json!(number));
    }
}

/// A job document moved into project `uid` ([`set_project`]); `status`, when given, replaces
/// its status (an active job imported as `killed`, as cryoSPARC's migration exports it).
pub fn move_job(doc: &mut Value, uid: &str, number: u64, status: Option<&str>) {
    if let Some(obj) = doc.as_object_mut() {
        set_project(obj, uid, number);
        if let Some(status) = status {
            obj.insert("status".into(), json!(status));
        }
    }
}

/// The number of a project document: its `uid_num`, else the number in its `uid` (`P3`), else
/// 0.
pub fn project_number(doc: &Value) -> u64 {
    let uid = doc.get("uid").and_then(Value::as_str).unwrap_or_default();
    doc.get("uid_num")
        .and_then(Value::as_u64)
        .or_else(|| uid.strip_prefix('P').and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// What a project becomes when it is imported: its new uid, title, time and folder.
#[derive(Debug, Clone, Copy)]
pub struct ProjectMove<'a> {
    /// `P7`.
    pub uid: &'a str,
    /// 7.
    pub number: u64,
    /// The new title.
    pub title: &'a str,
    /// The time of the import (ISO 8601): `created_at`, and `updated_at` of the statistics.
    pub now: &'a str,
    /// The absolute, resolved project folder, without a trailing slash.
    pub dir: &'a str,
}

/// A project document moved as `to` says: `uid`, `uid_num`, `title`, `created_at` and
/// `project_dir` set, and `project_stats` recounted from `jobs` (`job_count`, `job_status`, `job_types`, `updated_at`, each where it is there).
pub fn move_project(doc: &mut Value, to: &ProjectMove, jobs: &[CountedJob]) {
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("uid".into(), json!(to.uid));
        obj.insert("uid_num".into(), json!(to.number));
        obj.insert("title".into(), json!(to.title));
        obj.insert("created_at".into(), json!(to.now));
        obj.insert("project_dir".into(), json!(to.dir));
    }
    if let Some(stats) = doc.get_mut("project_stats").and_then(Value::as_object_mut) {
        recount(stats, &jobs.iter().collect::<Vec<_>>(), to.now);
    }
}

/// A job as the statistics of `project.json` and `workspaces.json` count it.
#[derive(Debug, Clone)]
pub struct CountedJob {
    /// Its status (as imported: an active job imported as killed counts as killed).
    pub status: String,
    /// Its type.
    pub job_type: String,
    /// Its `workspace_uids`, when its document has them.
    pub workspaces: Option<Vec<String>>,
}

impl CountedJob {
    /// `job` with status `status`, its workspaces read from its document `doc`.
    pub fn new(job: &Job, status: &str, doc: &Value) -> CountedJob {
        let workspaces = crate::project::string_list(doc, "workspace_uids");
        CountedJob {
            status: status.to_string(),
            job_type: job.job_type.clone(),
            workspaces,
        }
    }
}

/// Recount job statistics (`project_stats` of project.json, `workspace_stats` of a workspace):
/// `job_count`, `job_status` (jobs by status), `job_types` and `updated_at`, each where the
/// object has it; other keys are kept, and nothing is added where there are none.
pub(crate) fn recount(stats: &mut Map<String, Value>, jobs: &[&CountedJob], now: &str) {
    let count = |key: fn(&CountedJob) -> &str| {
        let mut counts = std::collections::BTreeMap::<&str, u64>::new();
        for job in jobs {
            *counts.entry(key(job)).or_default() += 1;
        }
        json!(counts)
    };
    let recounted = [
        ("job_count", json!(jobs.len())),
        ("job_status", count(|j| &j.status)),
        ("job_types", count(|j| &j.job_type)),
        ("updated_at", json!(now)),
    ];
    for (key, value) in recounted {
        if let Some(slot) = stats.get_mut(key) {
            *slot = value;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csg() -> Csg {
        Csg::parse(
            "created: 2024-01-01\ngroup:\n  name: particles\n  type: particle\n  title: P\n\
             results:\n  blob:\n    metafile: '>x.cs'\n    num_items: 3\n    type: particle.blob\n\
             \x20 ctf:\n    metafile: '>x.cs'\n    num_items: 3\n    type: particle.ctf\n",
        )
        .unwrap()
    }

    fn new_job<'a>(from: &'a Value) -> NewJob<'a> {
        NewJob {
            uid: "J12",
            number: 12,
            project_uid: "P3",
            project_number: 3,
            workspace: "W2",
            job_type: "import_result_group",
            imported_from: from,
            now: "2025-01-01T00:00:00Z",
        }
    }

    #[test]
    fn a_new_job_from_a_v4_export_keeps_its_keys_and_gets_v4_outputs() {
        let mut outputs = ImportedOutputs::default();
        outputs.add("J12", &csg(), "J12/J12_imported_particles.cs", 3);
        let base = json!({"uid": "J8", "job_type": "homo_refine_new", "status": "running",
                          "lab": 1, "created_at": "then"});
        let from = json!({"source": "x.tar"});
        let doc = new_job(&from).document(base.as_object().unwrap().clone(), &outputs);
        let keys: Vec<&str> = doc
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            &keys[..5],
            ["uid", "job_type", "status", "lab", "created_at"]
        );
        assert!(
            doc.get("type").is_none(),
            "the type stays under the key it had"
        );
        assert_eq!(doc["status"], "completed");
        assert_eq!(doc["created_at"], "then");
        assert_eq!(doc["workspace_uids"], json!(["W2"]));
        assert_eq!(doc["output_results"][1]["uid"], "J12-R2");
        assert_eq!(doc["output_results"][0]["name"], "blob");
        assert_eq!(doc["output_result_groups"][0]["uid"], "J12-G1");
        let job = Job::from_value(&doc).unwrap();
        assert_eq!(
            job.output_metafiles("particles", None).unwrap(),
            ["J12/J12_imported_particles.cs"]
        );
        assert_eq!(job.outputs[0].num_items, Some(3));
    }

    #[test]
    fn a_new_job_from_a_v5_export_gets_spec_outputs_that_read_back() {
        let mut outputs = ImportedOutputs::default();
        outputs.add("J12", &csg(), "J12/J12_imported_particles.cs", 3);
        let base = json!({"uid": "J8", "status": "completed", "spec": {"type": "t"}});
        let from = json!({});
        let doc = new_job(&from).document(base.as_object().unwrap().clone(), &outputs);
        assert!(doc.get("output_results").is_none());
        assert_eq!(doc["job_dir"], "J12");
        let job = Job::from_value(&doc).unwrap();
        assert_eq!(job.job_type, "t");
        let r = job.output("particles", "ctf").unwrap();
        assert_eq!(r.result_type, "particle.ctf");
        assert_eq!(r.metafiles, ["J12/J12_imported_particles.cs"]);
    }

    #[test]
    fn a_job_without_a_type_gets_both_spellings() {
        let from = json!({});
        let doc = new_job(&from).document(Map::new(), &ImportedOutputs::default());
        assert_eq!(doc["type"], "import_result_group");
        assert_eq!(doc["job_type"], "import_result_group");
        assert_eq!(doc["created_at"], doc["imported_at"]);
    }

    #[test]
    fn an_exported_job_needs_a_uid_a_type_and_a_status() {
        let ok = json!({"uid": "J8", "job_type": "t", "status": "completed"});
        assert_eq!(ExportedJob::from_value(ok).unwrap().job_type, "t");
        let cases = [
            (json!([]), Place::File),
            (
                json!({"job_type": "t", "status": "s"}),
                Place::Key("uid".into()),
            ),
            (
                json!({"uid": "J", "status": "s"}),
                Place::Key("type".into()),
            ),
            (
                json!({"uid": "J", "type": "", "job_type": "t", "status": "s"}),
                Place::Key("type".into()),
            ),
            (
                json!({"uid": "J", "type": "t"}),
                Place::Key("status".into()),
            ),
        ];
        for (doc, place) in cases {
            let e = ExportedJob::from_value(doc.clone()).unwrap_err();
            assert_eq!(e.place, place, "{doc}");
            assert!(e
                .what
                .ends_with("a job document has a uid, a type and a status"));
        }
    }

    #[test]
    fn a_moved_project_is_renamed_and_recounted_where_it_counts() {
        let mut doc = json!({"uid": "P3", "title": "T", "extra": 1,
            "project_stats": {"job_count": 0, "job_types": {}, "other": 5}});
        let jobs = [
            CountedJob {
                status: "killed".into(),
                job_type: "a".into(),
                workspaces: None,
            },
            CountedJob {
                status: "completed".into(),
                job_type: "a".into(),
                workspaces: None,
            },
        ];
        let to = ProjectMove {
            uid: "P7",
            number: 7,
            title: "Imported: T",
            now: "now",
            dir: "/d/P",
        };
        move_project(&mut doc, &to, &jobs);
        assert_eq!(doc["uid"], "P7");
        assert_eq!(doc["uid_num"], 7);
        assert_eq!(doc["extra"], 1);
        let stats = &doc["project_stats"];
        assert_eq!(
            stats,
            &json!({"job_count": 2, "job_types": {"a": 2}, "other": 5})
        );
    }

    #[test]
    fn a_moved_job_names_its_new_project_and_keeps_the_rest() {
        let mut doc = json!({"uid": "J1", "project_uid": "P3", "status": "running"});
        move_job(&mut doc, "P7", 7, Some("killed"));
        assert_eq!(
            doc,
            json!({"uid": "J1", "project_uid": "P7", "status": "killed"})
        );
        let mut with_num = json!({"project_uid": "P3", "project_uid_num": 3});
        move_job(&mut with_num, "P7", 7, None);
        assert_eq!(with_num["project_uid_num"], 7);
        assert_eq!(project_number(&json!({"uid": "P12"})), 12);
        assert_eq!(project_number(&json!({"uid": "P12", "uid_num": 4})), 4);
    }
}
