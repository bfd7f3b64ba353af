//! `workspaces.json`: the list of a project's workspace documents. cryoSPARC v4 records a job's
//! workspaces in the job (`workspace_uids`), so adding a job leaves this file as it is; moving
//! the project to a new uid rewrites each workspace's `project_uid` and, where a workspace has
//! them (v5), its `workspace_stats`.

use super::documents::{recount, set_project, CountedJob};
use super::{read_json, shown};
use crate::error::{Error, Result};
use serde_json::Value;
use std::path::Path;

/// The workspace every project has: cryoSPARC makes it with the project.
pub const FIRST_WORKSPACE: &str = "W1";

fn bad(path: &Path, what: impl Into<String>) -> Error {
    Error::in_whole_file(what).in_file(&shown(path))
}

/// The workspace uids a project's `workspaces.json` lists (None when the file is not there; an
/// error naming it when it is not JSON or not a list).
pub fn listed_workspaces(project_dir: &Path) -> Result<Option<Vec<String>>> {
    let path = project_dir.join("workspaces.json");
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let doc = read_json(&path)?;
    let list = doc
        .as_array()
        .ok_or_else(|| bad(&path, "is not a list of workspace documents (a JSON array)"))?;
    Ok(Some(
        list.iter()
            .filter_map(|w| w.get("uid").and_then(Value::as_str).map(str::to_string))
            .collect(),
    ))
}

/// The workspace a new job joins: `asked` if `workspaces.json` lists it, else (nothing asked)
/// the first listed. A project without `workspaces.json`, or with an empty list (as sync
/// scripts write it), has only [`FIRST_WORKSPACE`]. Asking for another is an error naming the
/// file and the workspaces there are.
pub fn choose_workspace(project_dir: &Path, asked: Option<&str>) -> Result<String> {
    let listed = listed_workspaces(project_dir)?;
    let known = match &listed {
        Some(l) if !l.is_empty() => l.clone(),
        _ => vec![FIRST_WORKSPACE.to_string()],
    };
    match asked {
        None => Ok(known[0].clone()),
        Some(w) if known.iter().any(|x| x == w) => Ok(w.to_string()),
        Some(w) => {
            let why = match listed {
                None => format!("the file is not there: the project has only {FIRST_WORKSPACE}"),
                Some(l) if l.is_empty() => {
                    format!("it lists none: the project has only {FIRST_WORKSPACE}")
                }
                Some(l) => format!("it has {}", l.join(", ")),
            };
            let path = project_dir.join("workspaces.json");
            Err(bad(&path, format!("has no workspace {w} ({why})")))
        }
    }
}

/// A parsed `workspaces.json` moved into project `uid` ([`set_project`] on each workspace),
/// each workspace's `workspace_stats` recounted from the jobs whose `workspace_uids` name it —
/// left as they are when a job does not say its workspaces.
pub fn move_workspaces(ws: &mut Value, uid: &str, number: u64, jobs: &[CountedJob], now: &str) {
    for w in ws.as_array_mut().into_iter().flatten() {
        if let Some(obj) = w.as_object_mut() {
            set_project(obj, uid, number);
        }
    }
    if jobs.iter().any(|j| j.workspaces.is_none()) {
        return;
    }
    for w in ws.as_array_mut().into_iter().flatten() {
        let uid = w.get("uid").and_then(Value::as_str).map(str::to_string);
        let stats = w.get_mut("workspace_stats").and_then(Value::as_object_mut);
        if let (Some(uid), Some(stats)) = (uid, stats) {
            let inside: Vec<&CountedJob> = jobs
                .iter()
                .filter(|j| j.workspaces.iter().flatten().any(|u| *u == uid))
                .collect();
            recount(stats, &inside, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(ws: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        if let Some(text) = ws {
            std::fs::write(d.path().join("workspaces.json"), text).unwrap();
        }
        d
    }

    #[test]
    fn a_project_without_workspaces_has_only_w1() {
        for ws in [None, Some("[]")] {
            let d = project(ws);
            assert_eq!(choose_workspace(d.path(), None).unwrap(), "W1");
            assert_eq!(choose_workspace(d.path(), Some("W1")).unwrap(), "W1");
            let e = choose_workspace(d.path(), Some("W2")).unwrap_err();
            assert!(e.what.contains("has no workspace W2"), "{e}");
            assert!(e.what.contains("the project has only W1"), "{e}");
        }
    }

    #[test]
    fn a_listed_workspace_is_taken_and_another_refused_naming_those_there() {
        let d = project(Some(r#"[{"uid": "W3"}, {"uid": "W5"}]"#));
        assert_eq!(choose_workspace(d.path(), None).unwrap(), "W3");
        assert_eq!(choose_workspace(d.path(), Some("W5")).unwrap(), "W5");
        let e = choose_workspace(d.path(), Some("W1")).unwrap_err();
        assert!(e.what.ends_with("(it has W3, W5)"), "{e}");
        let not_a_list = project(Some("{}"));
        let e = listed_workspaces(not_a_list.path()).unwrap_err();
        assert!(
            e.to_string().contains("workspaces.json: is not a list"),
            "{e}"
        );
    }

    #[test]
    fn moved_workspaces_name_the_project_and_count_their_own_jobs() {
        let mut ws = json!([
            {"uid": "W1", "project_uid": "P3", "workspace_stats": {"job_count": 9}},
            {"uid": "W2", "project_uid": "P3", "project_uid_num": 3},
        ]);
        let job = |w: &str| CountedJob {
            status: "completed".into(),
            job_type: "t".into(),
            workspaces: Some(vec![w.to_string()]),
        };
        move_workspaces(&mut ws, "P7", 7, &[job("W1"), job("W2")], "now");
        assert_eq!(ws[0]["project_uid"], "P7");
        assert_eq!(ws[0]["workspace_stats"]["job_count"], 1);
        assert_eq!(ws[1]["project_uid_num"], 7);
        assert!(ws[1].get("workspace_stats").is_none());
    }
}
