//! Mix-ups get a one-line hint through the real binaries: a job folder where a project is
//! expected, a .csg where a .cs file is (and the other way round), a bare job number, a
//! tab-separated or header-less CSV, a join of inputs with no uid in common. Each refusal exits
//! 1 and writes nothing: no stdout, no output file, no change to the project.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::{project_tree, refused, sh, stderr, tree_snapshot};
use std::path::Path;

/// Run `command` (bash, our binaries on PATH) in `dir`.
fn sh_in(dir: &Path, command: &str) -> std::process::Output {
    sh(&format!("cd '{}' && {command}", dir.display()))
}

/// A refusal of `command` in `dir` naming `file` with `hint`, that changed nothing under `dir`.
fn refused_in(dir: &Path, command: &str, tool: &str, file: &str, hint: &str) {
    let before = tree_snapshot(dir);
    let o = sh_in(dir, command);
    let line = refused(&o, tool, file, &[hint]);
    assert_eq!(
        tree_snapshot(dir),
        before,
        "{command} changed the tree ({line})"
    );
}

#[test]
fn a_job_folder_given_for_a_project_gets_the_command_line_to_try() {
    let (tmp, _project) = project_tree();
    let dir = tmp.path();
    refused_in(
        dir,
        "proj-clean --yes CS-t20s-demo/J8",
        "proj-clean",
        "CS-t20s-demo/J8",
        "looks like a job folder: try `proj-clean --yes CS-t20s-demo J8`",
    );
    refused_in(
        &dir.join("CS-t20s-demo/J8"),
        "proj-clean .",
        "proj-clean",
        ".",
        "J8`",
    );
    refused_in(
        dir,
        "job-pack import CS-t20s-demo/exports/jobs/P3_J8_homo_refine_new --into CS-t20s-demo/J9",
        "job-pack",
        "CS-t20s-demo/J9",
        "looks like a job folder: try `job-pack import \
         CS-t20s-demo/exports/jobs/P3_J8_homo_refine_new --into CS-t20s-demo`",
    );
    refused_in(
        dir,
        "job-pack import-group CS-t20s-demo/J8/J8_particles.csg --into CS-t20s-demo/J8/",
        "job-pack",
        "CS-t20s-demo/J8/",
        "try `job-pack import-group CS-t20s-demo/J8/J8_particles.csg --into CS-t20s-demo`",
    );
    refused_in(
        dir,
        "proj-import check CS-t20s-demo/J8",
        "proj-import",
        "CS-t20s-demo/J8",
        "looks like a job folder: try `proj-import check CS-t20s-demo`",
    );
    // The instance folder is not made either (it would be, under dir, by an import).
    refused_in(
        dir,
        "proj-import --instance inst CS-t20s-demo/J8",
        "proj-import",
        "CS-t20s-demo/J8",
        "try `proj-import --instance inst CS-t20s-demo`",
    );
    assert!(!dir.join("inst").exists());
}

#[test]
fn a_bare_job_number_gets_the_jobs_folder() {
    let (tmp, _project) = project_tree();
    let dir = tmp.path();
    for (command, tool, word) in [
        ("cs-cat J8", "cs-cat", "J8"),
        ("cs-to-csv 8", "cs-to-csv", "8"),
        ("cs-join J8 J9", "cs-join", "J8"),
        ("csg-edit show J8", "csg-edit", "J8"),
    ] {
        refused_in(
            dir,
            command,
            tool,
            word,
            "no such file or folder; J8 reads as a job number: name the job's folder \
             (CS-t20s-demo/J8)",
        );
    }
    refused_in(
        dir,
        "proj-clean J8",
        "proj-clean",
        "J8",
        "no such folder; J8 reads as a job number: try `proj-clean CS-t20s-demo J8`",
    );
    // Where no project holds the job, the hint says what to give.
    let empty = tempfile::tempdir().unwrap();
    refused_in(
        empty.path(),
        "job-pack import-group x.csg --into 12",
        "job-pack",
        "12",
        "try `job-pack import-group x.csg --into PROJECT`",
    );
    // A file that is there is read as the file it is.
    std::fs::write(empty.path().join("J8"), b"not a .cs file").unwrap();
    let o = sh_in(empty.path(), "cs-cat J8");
    refused(&o, "cs-cat", "J8", &["not a .cs file"]);
}

#[test]
fn a_csg_given_to_a_cs_reader_names_its_cs_files() {
    let (tmp, _project) = project_tree();
    let dir = tmp.path();
    let hint = "is a .csg (result group), not a .cs file: its .cs files are \
                CS-t20s-demo/J8/J8_passthrough_particles.cs, CS-t20s-demo/J8/J8_004_particles.cs \
                (csg-edit show CS-t20s-demo/J8/J8_particles.csg lists its slots)";
    let csg = "CS-t20s-demo/J8/J8_particles.csg";
    for (tool, command) in [
        ("cs-cat", format!("cs-cat {csg}")),
        ("cs-to-csv", format!("cs-to-csv {csg}")),
        (
            "cs-to-parquet",
            format!("cs-to-parquet {csg} -o out.parquet"),
        ),
        ("cs-to-star", format!("cs-to-star {csg}")),
        (
            "cs-join",
            format!("cs-join CS-t20s-demo/J8/J8_004_particles.cs {csg}"),
        ),
        (
            "csv-to-cs",
            format!(
                "cs-to-csv CS-t20s-demo/J8/J8_004_particles.cs | csv-to-cs --like {csg} -o out.cs"
            ),
        ),
        (
            "csg-edit",
            format!("csg-edit new -o out.csg --name p --type particle {csg}"),
        ),
    ] {
        refused_in(dir, &command, tool, csg, hint);
    }
}

#[test]
fn a_cs_file_given_to_csg_edit_is_named_as_one() {
    let (tmp, _project) = project_tree();
    let dir = tmp.path();
    let cs = "CS-t20s-demo/J8/J8_004_particles.cs";
    let hint = "is a .cs file (a dataset), not a .csg (result group): csg-edit new makes a group";
    for command in [
        format!("csg-edit show {cs}"),
        format!("csg-edit check CS-t20s-demo/J8/J8_particles.csg {cs}"),
        format!("csg-edit set {cs} --name other -o out.csg"),
        format!("csg-edit set {cs} --name other --in-place"),
    ] {
        refused_in(dir, &command, "csg-edit", cs, hint);
    }
}

/// The example particles as a user makes a CSV of them, written into `dir`.
fn example_csv(dir: &Path, flags: &str, name: &str) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/particles.cs");
    let o = sh_in(
        dir,
        &format!("cs-to-csv {flags} '{}' > {name}", example.display()),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_tab_separated_file_without_t_is_told_to_give_t() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    example_csv(dir, "-t", "particles.tsv");
    let hint = "line 1: looks tab-separated (the header row holds tabs, no ','): give -t";
    refused_in(
        dir,
        "csv-to-cs particles.tsv -o back.cs",
        "csv-to-cs",
        "particles.tsv",
        hint,
    );
    refused_in(
        dir,
        "csv-to-cs - -o back.cs < particles.tsv",
        "csv-to-cs",
        "-",
        hint,
    );
    // With -t the same file reads back to the example.
    let o = sh_in(
        dir,
        "csv-to-cs -t particles.tsv -o back.cs && cs-cat --count back.cs",
    );
    assert_eq!(common::stdout(&o), "100\n", "{}", stderr(&o));
}

#[test]
fn a_csv_without_a_header_row_is_told_it_needs_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    example_csv(dir, "--no-header -f uid,blob/idx,ctf/df1_A", "rows.csv");
    refused_in(
        dir,
        "csv-to-cs rows.csv -o back.cs",
        "csv-to-cs",
        "rows.csv",
        "line 1: the first row holds numbers, not field names: a header row is needed \
         (cs-to-csv writes one)",
    );
    // A header of field names with numbers below it is a CSV as usual.
    example_csv(dir, "-f uid,blob/idx,ctf/df1_A", "with-header.csv");
    let o = sh_in(dir, "csv-to-cs with-header.csv -o back.cs");
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn a_join_of_inputs_with_no_uid_in_common_says_so_and_prints_as_before() {
    let (_tmp, project) = project_tree();
    let particles = project.join("J8/J8_004_particles.cs");
    let volume = project.join("J8/J8_004_volume.cs");
    let (p, v) = (common::arg(&particles), common::arg(&volume));
    let o = common::run("cs-join", &[&p, &v], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        format!("cs-join: warning: {p} and {v} have no uid in common: the join is empty\n")
    );
    let out = project.join("joined.cs");
    let o = common::run("cs-join", &[&p, &v, "-o", &common::arg(&out)], None);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("have no uid in common"),
        "{}",
        stderr(&o)
    );
    assert_eq!(common::uids(&out), Vec::<String>::new());
    // Inputs that share uids join without a word.
    let passthrough = common::arg(&project.join("J8/J8_passthrough_particles.cs"));
    let o = common::run("cs-join", &[&p, &passthrough, "-n", "1"], None);
    assert!(
        o.status.success() && stderr(&o).is_empty(),
        "{}",
        stderr(&o)
    );
    assert_eq!(common::stdout(&o).lines().count(), 1);
}
