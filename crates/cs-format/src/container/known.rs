//! Field types of cryoSPARC's known fields (FORMATS.md §7), used when a dtype must be inferred.

use crate::container::dtype::Kind;

/// The kind and shape cryoSPARC uses for a known field name, if it is one.
pub fn known_field(name: &str) -> Option<(Kind, Vec<usize>)> {
    use Kind::*;
    if name == "uid" {
        return Some((U64, vec![]));
    }
    let (slot, field) = name.split_once('/')?;
    let s = |k: Kind| Some((k, vec![]));
    let a = |k: Kind, n: usize| Some((k, vec![n]));
    let str_ = Bytes(0);
    let alignments = |field: &str, pose: usize| match field {
        "split" | "class" => s(U32),
        "shift" => a(F32, 2),
        "pose" if pose == 3 => a(F32, 3),
        "pose" => s(F32),
        "psize_A" | "error" | "error_min" | "resid_pow" | "slice_pow" | "image_pow"
        | "cross_cor" | "alpha" | "alpha_min" | "weight" | "pose_ess" | "shift_ess"
        | "class_posterior" | "class_ess" => s(F32),
        _ => None,
    };
    match slot {
        "blob" | "micrograph_blob" | "gain_ref_blob" | "movie_blob" => match field {
            "path" | "format" => s(str_),
            "idx"
            | "is_gain_corrected"
            | "has_defect_file"
            | "is_background_subtracted"
            | "flip_x"
            | "flip_y"
            | "rotate_num" => s(U32),
            "shape" if slot == "movie_blob" => a(U32, 3),
            "shape" => a(U32, 2),
            "psize_A" | "sign" | "vmin" | "vmax" => s(F32),
            "import_sig" => s(U64),
            _ => None,
        },
        "ctf" => match field {
            "type" => s(str_),
            "exp_group_id" => s(U32),
            "shift_A" | "tilt_A" | "trefoil_A" => a(F32, 2),
            "tetra_A" | "anisomag" => a(F32, 4),
            _ => s(F32),
        },
        "alignments3D" => alignments(field, 3),
        "alignments2D" => alignments(field, 1),
        s3 if s3.starts_with("alignments_class_") => alignments(field, 3),
        "quality_stats" => s(F32),
        "location" => match field {
            "micrograph_uid" => s(U64),
            "exp_group_id" => s(U32),
            "micrograph_path" => s(str_),
            "micrograph_shape" => a(U32, 2),
            "center_x_frac" | "center_y_frac" | "min_dist_A" | "micrograph_psize_A" => s(F32),
            _ => None,
        },
        "pick_stats" => match field {
            "ncc_score" | "power" | "angle_rad" => s(F32),
            "template_idx" => s(U32),
            _ => None,
        },
        "mscope_params" => match field {
            "accel_kv" | "cs_mm" | "total_dose_e_per_A2" => s(F32),
            "phase_plate" | "neg_stain" | "exp_group_id" => s(U32),
            "defect_path" => s(str_),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_particle_fields() {
        assert_eq!(known_field("uid"), Some((Kind::U64, vec![])));
        assert_eq!(known_field("blob/idx"), Some((Kind::U32, vec![])));
        assert_eq!(known_field("blob/shape"), Some((Kind::U32, vec![2])));
        assert_eq!(known_field("ctf/anything_new"), Some((Kind::F32, vec![])));
        assert_eq!(
            known_field("alignments_class_7/pose"),
            Some((Kind::F32, vec![3]))
        );
        assert_eq!(known_field("alignments2D/pose"), Some((Kind::F32, vec![])));
        assert_eq!(known_field("mystery/x"), None);
    }
}
