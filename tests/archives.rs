#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Archives as people make them: GNU tar with the tutorial's own command lines (`tar -cvhf
//! P47.tar ./P47`), with and without `./` and `-h`, from inside the folder, in every format and
//! compression; bsdtar when present; Python's tarfile. Each is imported by `job-pack import`
//! (a job export) and `proj-import` (a whole project) and checked by `proj-import check`.
//! Hostile archives are refused with one line naming the entry, nothing changed.

mod common;

use common::{
    arg, failed, json_lines, project_tree, run, run_capped, sh, stderr, stdout, tar_entry,
    tree_snapshot, uids,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The export folder `job-pack export` makes of J8 in the fixture project.
const EXPORT: &str = "P3_J8_homo_refine_new";

/// A fixture project ready to be archived and imported: J10 marked completed, the link to a
/// movie that is gone removed (GNU tar -h stops on it).
fn project() -> (tempfile::TempDir, PathBuf) {
    let (keep, project) = project_tree();
    let jj = project.join("J10/job.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&jj).unwrap()).unwrap();
    doc["status"] = Value::from("completed");
    std::fs::write(&jj, cs_format::project::job::to_json_text(&doc)).unwrap();
    let gone = "J1/imported/009412124076831753401_14sep05c_00024sq_00006hl_00003es.frames.tif";
    std::fs::remove_file(project.join(gone)).unwrap();
    (keep, project)
}

/// Run a shell script in `dir`; it must succeed.
fn make(dir: &Path, script: &str) {
    let o = sh(&format!("cd '{}' && {script}", dir.display()));
    assert!(o.status.success(), "{script}: {}", stderr(&o));
}

/// The names in an archive, as GNU tar lists them.
fn listing(archive: &Path) -> Vec<String> {
    let o = sh(&format!("tar -tf '{}'", arg(archive)));
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).lines().map(str::to_string).collect()
}

/// A fixture project with J8 exported; returns the guard, the project and the folder that
/// holds the export (`exports/jobs`).
fn exported() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (keep, project) = project();
    // The fixture holds an export of J8 already: made again, as this build makes it.
    let o = run(
        "job-pack",
        &["export", "--force", &arg(&project.join("J8"))],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let jobs = project.join("exports/jobs");
    assert!(jobs.join(EXPORT).join("job.json").is_file());
    (keep, project, jobs)
}

/// `job-pack import` of `archive` into a fresh fixture project succeeds: a new job J12 with
/// J8's rows and uids, the export kept under imports/jobs/ under the export's name.
fn job_import_works(archive: &Path, source: &Path, what: &str) {
    let (_keep, target) = project();
    let o = run(
        "job-pack",
        &["import", &arg(archive), "--into", &arg(&target)],
        None,
    );
    assert!(o.status.success(), "{what}: {}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["job"], "J12", "{what}");
    for (group, original) in [
        ("particles", "J8/J8_004_particles.cs"),
        ("volume", "J8/J8_004_volume.cs"),
        ("mask", "J8/J8_004_mask.cs"),
    ] {
        let new = target.join(format!("J12/J12_imported_{group}.cs"));
        assert_eq!(uids(&new), uids(&source.join(original)), "{what}: {group}");
    }
    let map = "J12/imported/J8/J8_004_volume_map.mrc";
    assert_eq!(
        std::fs::read(target.join(map)).unwrap(),
        std::fs::read(source.join("J8/J8_004_volume_map.mrc")).unwrap(),
        "{what}: {map}"
    );
    let kept = target.join("imports/jobs").join(EXPORT).join("job.json");
    assert!(kept.is_file(), "{what}: the export is kept as {EXPORT}");
}

/// The `.cs` files of a project (regular files, not links): path -> bytes.
fn cs_files(project: &Path) -> std::collections::BTreeMap<String, String> {
    tree_snapshot(project)
        .into_iter()
        .filter(|(k, v)| k.ends_with(".cs") && v.starts_with("file"))
        .collect()
}

/// `proj-import` of `archive` into a fresh instance succeeds: every job, every `.cs` file as
/// it was.
fn project_import_works(archive: &Path, source: &Path, what: &str) {
    let inst = tempfile::tempdir().unwrap();
    let o = run(
        "proj-import",
        &[
            "--instance",
            &arg(inst.path()),
            "--steal-lock",
            &arg(archive),
        ],
        None,
    );
    assert!(o.status.success(), "{what}: {}", stderr(&o));
    let rec = &json_lines(&o)[0];
    assert_eq!(rec["source_uid"], "P3", "{what}");
    assert_eq!(rec["jobs"], 11, "{what}");
    let dir = Path::new(rec["dir"].as_str().unwrap());
    assert!(dir.join("project.json").is_file(), "{what}");
    let want = cs_files(source);
    let got = cs_files(dir);
    for (path, sum) in &want {
        assert_eq!(got.get(path), Some(sum), "{what}: {path}");
    }
}

#[test]
fn the_tutorials_own_tar_commands_make_archives_job_pack_imports() {
    let (keep, source, jobs) = exported();
    let dir = keep.path();
    let cases = [
        ("seed.tar", format!("tar -cvhf {{a}} ./{EXPORT}")),
        ("plain.tar", format!("tar -chf {{a}} {EXPORT}")),
        ("inside.tar", format!("tar -C {EXPORT} -chf {{a}} .")),
        ("dotdot.tar", format!("tar -chf {{a}} ././{EXPORT}")),
        ("pax.tar", format!("tar --format=pax -chf {{a}} ./{EXPORT}")),
        ("gnu.tar", format!("tar --format=gnu -chf {{a}} ./{EXPORT}")),
        ("gzip.tar.gz", format!("tar -czhf {{a}} ./{EXPORT}")),
        ("bzip2.tar.bz2", format!("tar -cjhf {{a}} ./{EXPORT}")),
        ("xz.tar.xz", format!("tar -cJhf {{a}} ./{EXPORT}")),
        ("zstd.tar.zst", format!("tar --zstd -chf {{a}} ./{EXPORT}")),
    ];
    for (name, script) in &cases {
        let archive = dir.join(name);
        let compressor = match name.rsplit('.').next() {
            Some("bz2") => "bzip2",
            Some("xz") => "xz",
            Some("zst") => "zstd",
            _ => "gzip",
        };
        if !sh(&format!("command -v {compressor}")).status.success() {
            eprintln!("{name}: skipped, no {compressor} here");
            continue;
        }
        make(&jobs, &script.replace("{a}", &arg(&archive)));
        job_import_works(&archive, &source, name);
    }
    // What the archives hold: `./` names, names over 100 bytes, hard links within.
    let names = listing(&dir.join("seed.tar"));
    assert!(names.iter().all(|n| n.starts_with("./")), "{names:?}");
    assert!(names.iter().any(|n| n.len() > 100), "a long name");
    let inside = listing(&dir.join("inside.tar"));
    assert!(inside.contains(&"./".to_string()) && inside.contains(&"./job.json".to_string()));
    let verbose = stdout(&sh(&format!("tar -tvf '{}'", arg(&dir.join("gnu.tar")))));
    assert!(verbose.contains(" link to "), "a hard link: {verbose}");
}

#[test]
fn an_export_archived_without_dereferencing_is_refused_with_the_link_it_holds() {
    let (keep, _source, jobs) = exported();
    let archive = keep.path().join("links.tar");
    make(&jobs, &format!("tar -cvf '{}' ./{EXPORT}", arg(&archive)));
    let (_k, target) = project();
    let before = tree_snapshot(&target);
    let o = run(
        "job-pack",
        &["import", &arg(&archive), "--into", &arg(&target)],
        None,
    );
    failed(
        &o,
        "job-pack",
        &arg(&archive),
        &[
            &format!("entry ./{EXPORT}/"),
            "refused: a link to ../../../",
            "leads outside the archive",
        ],
    );
    assert_eq!(tree_snapshot(&target), before);
}

#[test]
fn bsdtar_archives_import() {
    if !sh("command -v bsdtar").status.success() {
        eprintln!("skipped: no bsdtar here (Debian: libarchive-tools)");
        return;
    }
    let (keep, source, jobs) = exported();
    for (name, script) in [
        ("seed.tar", format!("bsdtar -cvLf {{a}} ./{EXPORT}")),
        ("inside.tar", format!("bsdtar -C {EXPORT} -cLf {{a}} .")),
        (
            "pax.tar.xz",
            format!("bsdtar --format=pax -cJLf {{a}} {EXPORT}"),
        ),
    ] {
        let archive = keep.path().join(name);
        make(&jobs, &script.replace("{a}", &arg(&archive)));
        job_import_works(&archive, &source, name);
    }
    let (keep, source) = project();
    let archive = keep.path().join("P47.tar");
    make(
        keep.path(),
        &format!("bsdtar -cvLf '{}' ./CS-t20s-demo", arg(&archive)),
    );
    project_import_works(&archive, &source, "bsdtar");
}

/// A Python tarfile script writing `archive` from folder `name` (in the current folder).
fn python_tar(archive: &Path, name: &str, format: &str) -> String {
    format!(
        "python3 -c \"import tarfile; t = tarfile.open('{a}', 'w', format=tarfile.{format}, \
         dereference=True); t.add('{name}'); t.close()\"",
        a = arg(archive)
    )
}

#[test]
fn python_tarfile_archives_import() {
    let (keep, source, jobs) = exported();
    for (name, folder, format) in [
        ("dot-pax.tar", format!("./{EXPORT}"), "PAX_FORMAT"),
        ("pax.tar", EXPORT.to_string(), "PAX_FORMAT"),
        ("gnu.tar", format!("./{EXPORT}"), "GNU_FORMAT"),
    ] {
        let archive = keep.path().join(name);
        make(&jobs, &python_tar(&archive, &folder, format));
        job_import_works(&archive, &source, name);
    }
    let archive = keep.path().join("from-inside.tar");
    make(&jobs.join(EXPORT), &python_tar(&archive, ".", "PAX_FORMAT"));
    job_import_works(&archive, &source, "from inside");

    let (keep, source) = project();
    for (name, folder) in [("dot.tar", "./CS-t20s-demo"), ("plain.tar", "CS-t20s-demo")] {
        let archive = keep.path().join(name);
        make(keep.path(), &python_tar(&archive, folder, "PAX_FORMAT"));
        project_import_works(&archive, &source, name);
    }
}

#[test]
fn the_tutorials_own_tar_commands_make_archives_proj_import_imports() {
    let (keep, source) = project();
    let dir = keep.path();
    let cases = [
        ("seed.tar", "tar -cvhf {a} ./CS-t20s-demo"),
        ("plain.tar", "tar -chf {a} CS-t20s-demo"),
        ("inside.tar", "tar -C CS-t20s-demo -chf {a} ."),
        ("links.tar", "tar -cvf {a} ./CS-t20s-demo ./raw"),
        ("pax.tar.gz", "tar --format=pax -czhf {a} ./CS-t20s-demo"),
        ("gnu.tar.bz2", "tar --format=gnu -cjhf {a} ./CS-t20s-demo"),
        ("gnu.tar.xz", "tar --format=gnu -cJhf {a} ./CS-t20s-demo"),
        ("zstd.tar.zst", "tar --zstd -chf {a} ./CS-t20s-demo"),
    ];
    for (name, script) in cases {
        let archive = dir.join(name);
        make(dir, &script.replace("{a}", &arg(&archive)));
        project_import_works(&archive, &source, name);
    }
    // Without -h and without the raw data beside it, the project's links to raw/ stay inside
    // the archive's top but lead nowhere: imported, each reported as a dangling link.
    let archive = dir.join("alone.tar");
    make(dir, &format!("tar -cvf '{}' ./CS-t20s-demo", arg(&archive)));
    let inst = tempfile::tempdir().unwrap();
    let o = run(
        "proj-import",
        &[
            "--instance",
            &arg(inst.path()),
            "--steal-lock",
            &arg(&archive),
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let warnings = json_lines(&o)[0]["warnings"].clone();
    let dangling: Vec<&Value> = warnings
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["problem"] == "dangling_link")
        .collect();
    assert_eq!(dangling.len(), 6, "{warnings}");
    assert!(dangling
        .iter()
        .all(|w| w["path"].as_str().unwrap().starts_with("J1/imported/")));
}

/// A plain tar of raw entries, with the two zero blocks that end an archive.
fn raw_tar(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Hostile archives: `(file name, bytes, the entry named, the reason)`.
fn hostile() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    let job = tar_entry("E/job.json", b'0', "", b"{}", None);
    vec![
        (
            "dotdot.tar",
            raw_tar(&[job.clone(), tar_entry("../evil", b'0', "", b"x", None)]),
            "entry ../evil",
            "refused: a name with '..'",
        ),
        (
            "absolute.tar",
            raw_tar(&[tar_entry("/tmp/evil", b'0', "", b"x", None)]),
            "entry /tmp/evil",
            "refused: an absolute name",
        ),
        (
            "symlink-out.tar",
            raw_tar(&[job.clone(), tar_entry("E/l", b'2', "../../x", b"", None)]),
            "entry E/l",
            "refused: a link to ../../x leads outside the archive (data that did not travel? give \
             --allow-missing to import without it)",
        ),
        (
            "symlink-abs.tar",
            raw_tar(&[tar_entry("E/l", b'2', "/etc", b"", None)]),
            "entry E/l",
            "refused: a link to /etc leads outside the archive (data that did not travel? give \
             --allow-missing to import without it)",
        ),
        (
            "links-together.tar",
            raw_tar(&[
                job.clone(),
                tar_entry("E/b", b'2', "a/a/../../x", b"", None),
                tar_entry("E/a", b'2', ".", b"", None),
            ]),
            "entry E/b",
            "refused: a link to a/a/../../x leads outside the archive through its other links",
        ),
        (
            "hardlink-out.tar",
            raw_tar(&[tar_entry("E/h", b'1', "/etc/passwd", b"", None)]),
            "entry E/h",
            "refused: a hard link to /etc/passwd leads outside the archive",
        ),
        (
            "through-link.tar",
            raw_tar(&[
                tar_entry("E/l", b'2', "sub", b"", None),
                tar_entry("E/l/job.json", b'0', "", b"{}", None),
            ]),
            "entry E/l/job.json",
            "refused: it would be written through the link E/l",
        ),
        (
            "twice.tar",
            raw_tar(&[
                job.clone(),
                tar_entry("./E/job.json", b'0', "", b"[]", None),
            ]),
            "entry ./E/job.json",
            "refused: the archive holds this name twice",
        ),
        (
            "device.tar",
            raw_tar(&[job.clone(), tar_entry("E/dev", b'3', "", b"", None)]),
            "entry E/dev",
            "refused: a character device",
        ),
        (
            "block.tar",
            raw_tar(&[tar_entry("E/blk", b'4', "", b"", None)]),
            "entry E/blk",
            "refused: a block device",
        ),
        (
            "fifo.tar",
            raw_tar(&[job.clone(), tar_entry("E/fifo", b'6', "", b"", None)]),
            "entry E/fifo",
            "refused: a FIFO",
        ),
        (
            "short.tar",
            [
                job,
                tar_entry("E/J1.cs", b'0', "", &[1u8; 1024], Some(1 << 30)),
            ]
            .concat(),
            "entry E/J1.cs",
            "bytes of data where the header says 1073741824",
        ),
    ]
}

/// Sparse files as GNU tar writes them (`--sparse`, GNU and pax formats).
fn sparse_archives(dir: &Path) -> Vec<PathBuf> {
    make(
        dir,
        "mkdir -p sp/E && truncate -s 4M sp/E/holes && echo x >> sp/E/holes",
    );
    ["gnu", "pax"]
        .iter()
        .map(|f| {
            let a = dir.join(format!("sparse-{f}.tar"));
            make(
                &dir.join("sp"),
                &format!("tar --sparse --format={f} -cf '{}' E", arg(&a)),
            );
            a
        })
        .collect()
}

#[test]
fn hostile_archives_are_refused_naming_the_entry_and_nothing_changes() {
    let (keep, project) = project();
    let dir = keep.path().join("archives");
    std::fs::create_dir(&dir).unwrap();
    let mut cases: Vec<(PathBuf, String, String)> = hostile()
        .into_iter()
        .map(|(name, bytes, entry, why)| {
            let a = dir.join(name);
            std::fs::write(&a, bytes).unwrap();
            (a, entry.to_string(), why.to_string())
        })
        .collect();
    for a in sparse_archives(keep.path()) {
        cases.push((a, "entry E/holes:".into(), "refused: a sparse file".into()));
    }
    let inst = keep.path().join("instance");
    let before = tree_snapshot(keep.path());
    for (archive, entry, why) in &cases {
        let a = arg(archive);
        let o = run_capped(
            keep.path(),
            &format!("job-pack import '{a}' --into '{}'", arg(&project)),
        );
        let line = failed(&o, "job-pack", &a, &[entry, why]);
        assert!(o.stdout.is_empty(), "{line}");
        let o = run_capped(
            keep.path(),
            &format!("proj-import --instance '{}' '{a}'", arg(&inst)),
        );
        failed(&o, "proj-import", &a, &[entry, why]);
        let o = run_capped(
            keep.path(),
            &format!("proj-import --instance '{}' check '{a}'", arg(&inst)),
        );
        // A link out by its own text is a problem record for check (see
        // check_of_an_archive_with_a_link_out_lists_it_as_a_problem), not a refusal.
        if why.contains("--allow-missing") {
            assert_eq!(o.status.code(), Some(1), "{a}: {}", stderr(&o));
        } else {
            failed(&o, "proj-import", &a, &[entry, why]);
        }
        let mut now = tree_snapshot(keep.path());
        now.retain(|k, _| k != "instance" && !k.starts_with("instance/"));
        assert_eq!(now, before, "{a}: nothing changed");
        assert!(
            !inst.join("instance.json").exists(),
            "{a}: nothing registered"
        );
        if inst.join("imports").exists() {
            assert_eq!(
                tree_snapshot(&inst.join("imports")).len(),
                0,
                "{a}: nothing unpacked"
            );
        }
    }
}

/// The JSON-lines of `proj-import check SOURCE`, run in `dir`, and its exit status.
fn check(dir: &Path, inst: &Path, source: &str) -> (Option<i32>, String) {
    let o = sh(&format!(
        "cd '{}' && proj-import --instance '{}' check '{source}'",
        dir.display(),
        arg(inst)
    ));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    (o.status.code(), stdout(&o))
}

#[test]
fn check_of_an_archive_reports_what_check_of_the_folder_reports_and_writes_nothing() {
    let (keep, project) = project_tree();
    // Damage: an unreadable job.json, a missing metafile, a .csg whose rows are wrong, a
    // job.json that is a link out of the project, a dangling link (the fixture's), J10 active.
    std::fs::write(project.join("J3/job.json"), "{bad").unwrap();
    std::fs::remove_file(project.join("J2/J2_micrographs.cs")).unwrap();
    std::fs::remove_file(project.join("J4/job.json")).unwrap();
    std::fs::write(keep.path().join("raw/job.json"), "[]").unwrap();
    std::os::unix::fs::symlink("../../raw/job.json", project.join("J4/job.json")).unwrap();
    std::fs::copy(
        project.join("J6/J6_005_particles.cs"),
        project.join("J5/J5_particles.cs"),
    )
    .unwrap();
    let dir = keep.path();
    let inst = dir.join("instance");
    make(
        dir,
        "tar -cf damaged.tar ./CS-t20s-demo ./raw && tar -czf damaged.tar.gz CS-t20s-demo raw",
    );
    let before = tree_snapshot(dir);
    let (folder_status, folder) = check(dir, &inst, "CS-t20s-demo");
    assert_eq!(folder_status, Some(1));
    for problem in [
        "bad_job_json",
        "missing_metafile",
        "link_out_of_project",
        "dangling_link",
        "active_job",
        "foreign_lock",
    ] {
        assert!(folder.contains(problem), "{problem}: {folder}");
    }
    for archive in ["damaged.tar", "damaged.tar.gz"] {
        let (status, text) = check(dir, &inst, archive);
        assert_eq!(status, folder_status, "{archive}");
        // The same records; files are named inside the archive (damaged.tar:CS-t20s-demo/…).
        let text = text
            .replace(&format!("{archive}:./"), "")
            .replace(&format!("{archive}:"), "");
        let want = folder.replace(&format!("{}/", dir.display()), "");
        assert_eq!(text, want, "{archive}");
    }
    assert_eq!(tree_snapshot(dir), before, "nothing written");
    assert!(!inst.exists(), "no instance made");
}

#[test]
fn check_of_an_archive_made_as_the_tutorial_says_matches_the_folder() {
    let (keep, project) = project();
    let dir = keep.path();
    let inst = dir.join("instance");
    make(
        dir,
        "tar -cvhf P47.tar ./CS-t20s-demo && tar -C CS-t20s-demo -cJhf in.tar.xz .",
    );
    let (want_status, want) = check(dir, &inst, "CS-t20s-demo");
    assert!(want.contains("foreign_lock"), "{want}");
    for archive in ["P47.tar", "in.tar.xz"] {
        let (status, got) = check(dir, &inst, archive);
        assert_eq!((status, &got), (want_status, &want), "{archive}");
    }
    // With the lock removed the archive is importable: nothing reported, exit 0.
    std::fs::remove_file(project.join("cs.lock")).unwrap();
    make(dir, "tar -cvhf P48.tar ./CS-t20s-demo");
    assert_eq!(check(dir, &inst, "P48.tar"), (Some(0), String::new()));
    // Not a project: one line, exit 1.
    make(dir, "tar -cf raw.tar raw");
    let o = sh(&format!(
        "cd '{}' && proj-import --instance '{}' check raw.tar",
        dir.display(),
        arg(&inst)
    ));
    failed(
        &o,
        "proj-import",
        "raw.tar",
        &["does not hold one project folder"],
    );
}

#[test]
fn ustar_and_v7_archives_of_a_small_project_import() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("{}/{}", "a".repeat(90), "b".repeat(60));
    make(
        dir.path(),
        &format!(
            "mkdir -p P9/{long} && echo '{{\"uid\": \"P9\", \"title\": \"small\"}}' > P9/project.json \
             && echo '[]' > P9/workspaces.json && echo data > P9/{long}/x.txt && \
             tar --format=ustar -cvf ustar.tar ./P9 && mkdir v && cp P9/*.json v/ && \
             tar --format=v7 -C v -cf v7.tar ."
        ),
    );
    assert!(listing(&dir.path().join("ustar.tar"))
        .iter()
        .any(|n| n.len() > 100));
    let inst = dir.path().join("instance");
    for archive in ["ustar.tar", "v7.tar"] {
        assert_eq!(check(dir.path(), &inst, archive), (Some(0), String::new()));
        let o = run(
            "proj-import",
            &["--instance", &arg(&inst), &arg(&dir.path().join(archive))],
            None,
        );
        assert!(o.status.success(), "{archive}: {}", stderr(&o));
        let rec = &json_lines(&o)[0];
        assert_eq!(rec["source_uid"], "P9");
        let imported = Path::new(rec["dir"].as_str().unwrap());
        if archive == "ustar.tar" {
            assert_eq!(
                std::fs::read(imported.join(&long).join("x.txt")).unwrap(),
                b"data\n"
            );
        }
    }
}

#[test]
fn a_refused_project_archive_names_its_files_inside_the_archive() {
    let (keep, project) = project();
    let jj = project.join("J9/job.json");
    let text = std::fs::read_to_string(&jj).unwrap();
    std::fs::write(&jj, &text[..300]).unwrap();
    make(
        keep.path(),
        "tar -chf dam.tar ./CS-t20s-demo && tar -C CS-t20s-demo -chf in.tar .",
    );
    let inst = keep.path().join("instance");
    for (archive, named) in [
        ("dam.tar", "dam.tar:CS-t20s-demo/J9/job.json: line "),
        ("in.tar", "in.tar:J9/job.json: line "),
    ] {
        let a = arg(&keep.path().join(archive));
        // The tree as it was (a first import's refusal may leave an empty instance folder).
        let outside = |m: std::collections::BTreeMap<String, String>| {
            m.into_iter()
                .filter(|(k, _)| !k.starts_with("instance"))
                .collect::<Vec<_>>()
        };
        let before = outside(tree_snapshot(keep.path()));
        let o = run(
            "proj-import",
            &["--instance", &arg(&inst), "--force", "--steal-lock", &a],
            None,
        );
        let line = failed(&o, "proj-import", &a, &[named, "not JSON"]);
        assert!(!line.contains(".csutils-"), "no temporary folder: {line}");
        assert!(outside(tree_snapshot(keep.path())) == before, "{archive}");
    }
}

/// An export archived from inside (`tar -C EXPORT -chf x.tar .`) is kept as
/// `imports/jobs/<P>_<J>_<type>`, the name it had, readable like any folder an archive holds —
/// also for a v5 job.json, whose type is only in `spec.type`.
#[test]
fn an_export_archived_from_inside_is_kept_readable_under_its_export_name_in_v4_and_v5() {
    let (keep, _source, jobs) = exported();
    let v4 = keep.path().join("v4.tar");
    make(&jobs, &format!("tar -C {EXPORT} -chf '{}' .", arg(&v4)));
    let jj = jobs.join(EXPORT).join("job.json");
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&jj).unwrap()).unwrap();
    let obj = doc.as_object_mut().unwrap();
    let ty = obj.remove("type").unwrap();
    obj.remove("job_type");
    obj.insert("spec".into(), serde_json::json!({ "type": ty }));
    std::fs::write(&jj, cs_format::project::job::to_json_text(&doc)).unwrap();
    let v5 = keep.path().join("v5.tar");
    make(&jobs, &format!("tar -C {EXPORT} -chf '{}' .", arg(&v5)));
    for archive in [&v4, &v5] {
        let (_k, target) = project();
        let o = run(
            "job-pack",
            &["import", &arg(archive), "--into", &arg(&target)],
            None,
        );
        assert!(o.status.success(), "{}: {}", arg(archive), stderr(&o));
        let kept = target.join("imports/jobs").join(EXPORT);
        assert!(kept.join("job.json").is_file(), "{}", arg(archive));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&kept).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o755, "{}", arg(archive));
    }
}

/// A refused archive leaves the project as it was, down to an empty `imports/` it already had
/// (only the folders the import made are removed again).
#[test]
fn a_refused_archive_leaves_an_imports_folder_the_project_already_had() {
    let (keep, target) = project();
    std::fs::create_dir(target.join("imports")).unwrap();
    let before = tree_snapshot(&target);
    let (name, bytes, entry, why) = hostile().remove(0);
    let archive = keep.path().join(name);
    std::fs::write(&archive, bytes).unwrap();
    let o = run(
        "job-pack",
        &["import", &arg(&archive), "--into", &arg(&target)],
        None,
    );
    failed(&o, "job-pack", &arg(&archive), &[entry, why]);
    assert_eq!(tree_snapshot(&target), before);
    assert!(target.join("imports").is_dir());
}
