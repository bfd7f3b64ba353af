//! A job's output group as one dataset, as cryoSPARC's `load_output` reads it (FORMATS.md §8):
//! the group's metafiles at a version, found in `job.json`, joined on uid.

use crate::container::dataset::Dataset;
use crate::error::{Error, Place, Result};
use crate::ops::join::{join_to_dataset, JoinMode};
use crate::project::{read_job, shown};
use std::path::Path;

/// Output group `group` of the job in `job_dir` at `version` (None: the final one): its
/// metafiles (from `job.json`, v4 `output_results` or v5 `spec.outputs`; paths relative to the
/// project folder holding the job) joined on uid, several files through a nameless temporary
/// file in the system's temporary folder. A group the job does not have is an error that lists
/// the groups it has.
pub fn open_group(job_dir: &Path, group: &str, version: Option<u64>) -> Result<Dataset> {
    let name = shown(job_dir);
    let job = read_job(job_dir)?;
    let files = job
        .output_metafiles(group, version)
        .map_err(|what| Error::in_whole_file(what).in_file(&name))?;
    let abs =
        std::fs::canonicalize(job_dir).map_err(|e| Error::io(&e, Place::File).in_file(&name))?;
    let project_dir = abs.parent().unwrap_or(&abs);
    let mut datasets = Vec::new();
    for f in &files {
        let path = project_dir.join(f);
        datasets.push(Dataset::open(&path, &shown(&path))?);
    }
    if datasets.len() == 1 {
        if let Some(ds) = datasets.pop() {
            return Ok(ds);
        }
    }
    join_to_dataset(
        datasets,
        JoinMode::Inner,
        &std::env::temp_dir(),
        &format!("{name} (group {group})"),
    )
}
