//! Choosing fields — by exact name, by slot prefix (`ctf` = every `ctf/…` field) or by glob —
//! once, into a [`Projection`]: the chosen fields of a dataset, which carries their schema and
//! hands out chunks of just those fields.

use crate::container::dataset::Dataset;
use crate::container::dtype::Schema;
use crate::container::projection::Projection;
use crate::error::{Error, Result};

impl Dataset {
    /// The fields `patterns` choose, in the order given, each at most once; every field when
    /// there are none (`-f/--fields`).
    ///
    /// A pattern is, in this order of precedence: an exact field name; a glob when it holds
    /// one of `* ? [ {` (`*` also matches `/`); otherwise a slot prefix, matching every
    /// `<prefix>/…` field. A pattern that matches nothing is an error naming it and listing
    /// the slots there are.
    pub fn select(self, patterns: &[String]) -> Result<Projection> {
        match select_fields(self.schema(), patterns) {
            Ok(indices) => Ok(self.project(indices)),
            Err(what) => Err(Error::in_whole_file(what).in_file(self.name())),
        }
    }
}

/// Resolve `patterns` against `schema` as [`Dataset::select`] does: the chosen fields'
/// indices, or what is wrong.
fn select_fields(schema: &Schema, patterns: &[String]) -> Result<Vec<usize>, String> {
    if patterns.is_empty() {
        return Ok((0..schema.fields.len()).collect());
    }
    let mut chosen: Vec<usize> = Vec::new();
    for pat in patterns {
        let mut matched: Vec<usize> = Vec::new();
        if let Some(i) = schema.index_of(pat) {
            matched.push(i);
        } else if pat.contains(['*', '?', '[', '{']) {
            let glob = globset::GlobBuilder::new(pat)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("bad field pattern '{pat}': {}", e.kind()))?
                .compile_matcher();
            matched.extend(
                schema
                    .fields
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| glob.is_match(&f.name))
                    .map(|(i, _)| i),
            );
        } else {
            let prefix = pat.trim_end_matches('/');
            matched.extend(
                schema
                    .fields
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| {
                        f.name.len() > prefix.len()
                            && f.name.starts_with(prefix)
                            && f.name.as_bytes()[prefix.len()] == b'/'
                    })
                    .map(|(i, _)| i),
            );
        }
        if matched.is_empty() {
            let mut slots: Vec<&str> = Vec::new();
            for f in &schema.fields {
                if !slots.contains(&f.prefix()) {
                    slots.push(f.prefix());
                }
            }
            return Err(format!(
                "no field matches '{pat}' (slots here: {})",
                slots.join(", ")
            ));
        }
        for i in matched {
            if !chosen.contains(&i) {
                chosen.push(i);
            }
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::dtype::{ByteOrder, Field, FieldType, Kind};

    fn schema(names: &[&str]) -> Schema {
        Schema {
            fields: names
                .iter()
                .map(|n| Field {
                    name: n.to_string(),
                    ty: FieldType {
                        kind: Kind::F32,
                        order: ByteOrder::Little,
                        shape: vec![],
                    },
                })
                .collect(),
        }
    }

    fn pick(names: &[&str], pats: &[&str]) -> Result<Vec<usize>, String> {
        select_fields(
            &schema(names),
            &pats.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn exact_prefix_and_glob_in_the_order_given() {
        let n = [
            "uid",
            "ctf/df1_A",
            "ctf/df2_A",
            "ctfx/a",
            "alignments_class_0/pose",
            "alignments_class_1/pose",
        ];
        assert_eq!(pick(&n, &["ctf", "uid"]).unwrap(), vec![1, 2, 0]);
        assert_eq!(pick(&n, &["ctf/"]).unwrap(), vec![1, 2]);
        assert_eq!(pick(&n, &["*/pose"]).unwrap(), vec![4, 5]);
        assert_eq!(pick(&n, &["ctf/df2_A", "ctf"]).unwrap(), vec![2, 1]);
        assert_eq!(pick(&n, &[]).unwrap(), vec![0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn unmatched_pattern_names_itself_and_the_slots() {
        let e = pick(&["uid", "blob/path"], &["ctf"]).unwrap_err();
        assert!(e.contains("'ctf'") && e.contains("uid, blob"), "{e}");
    }
}
