//! Names in an archive as paths: plain relative names, links that stay inside, and the folder
//! name an archive's contents get.

use std::path::{Component, Path, PathBuf};

/// A path from an archive or a `.csg`: relative, plain components only.
pub fn clean_relative(p: &Path) -> bool {
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// An archive name as a plain relative path: `.` components (a leading `./`, `././`, `a/./b`)
/// dropped. The empty path is the archived folder itself (`./`). Absolute names and names with
/// `..` are refused, with the reason.
pub fn normalise(name: &Path) -> Result<PathBuf, &'static str> {
    let mut out = PathBuf::new();
    for c in name.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("a name with '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute name"),
        }
    }
    Ok(out)
}

/// True when `target` (a link's text, relative to the link's folder `link_dir_rel` inside the
/// archived folder) stays inside it.
pub fn stays_inside(link_dir_rel: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = link_dir_rel
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count() as i64;
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

/// An archive's file name without its `.tar…` ending (`P47.tar.gz` → `P47`), the folder name
/// its contents get; None for standard input (`-`) or a name that leaves nothing.
pub fn archive_stem(src: &str) -> Option<String> {
    let name = Path::new(src).file_name()?.to_string_lossy().into_owned();
    let stem = [
        ".tar.gz", ".tgz", ".tar.zst", ".tzst", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar",
    ]
    .iter()
    .find_map(|ext| name.strip_suffix(ext))
    .unwrap_or(&name);
    (src != "-" && !stem.is_empty()).then(|| stem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_that_climb_out_are_seen() {
        assert!(stays_inside(Path::new("a/b"), Path::new("../c")));
        assert!(!stays_inside(Path::new("a"), Path::new("../../c")));
        assert!(!stays_inside(Path::new(""), Path::new("/etc/passwd")));
        assert!(stays_inside(Path::new(""), Path::new("x/y")));
    }

    #[test]
    fn dot_components_are_dropped_and_dot_dot_refused() {
        assert_eq!(
            normalise(Path::new("./P47/J1")),
            Ok(PathBuf::from("P47/J1"))
        );
        assert_eq!(normalise(Path::new("././a/./b/")), Ok(PathBuf::from("a/b")));
        assert_eq!(normalise(Path::new("./")), Ok(PathBuf::new()));
        assert_eq!(normalise(Path::new(".")), Ok(PathBuf::new()));
        assert_eq!(normalise(Path::new("a/../b")), Err("a name with '..'"));
        assert_eq!(normalise(Path::new("/etc/x")), Err("an absolute name"));
    }

    #[test]
    fn an_archives_stem_drops_every_tar_ending_and_standard_input_has_none() {
        assert_eq!(archive_stem("/a/P47.tar.gz").as_deref(), Some("P47"));
        assert_eq!(archive_stem("x.tzst").as_deref(), Some("x"));
        assert_eq!(archive_stem("plain").as_deref(), Some("plain"));
        assert_eq!(archive_stem("-"), None);
        assert_eq!(archive_stem(".tar"), None);
    }
}
