"""cs-to-star output read by the `starfile` package (PyPI) has the mapped values of the .cs file,
with the angles recomputed here, independently, from the pose vectors (pyem's expmap and
rot2euler, in numpy).

usage: star_check.py --bin target/release --cs particles_1000.numpy.cs
Prints one line per failure and a closing line "diff: N passed, M failed".
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import starfile
from cryosparc.dataset import Dataset


def expmap(e):
    theta = np.linalg.norm(e)
    if theta < 1e-16:
        return np.identity(3)
    w = e / theta
    k = np.array([[0, w[2], -w[1]], [-w[2], 0, w[0]], [w[1], -w[0], 0]])
    return np.identity(3) + np.sin(theta) * k + (1 - np.cos(theta)) * (k @ k)


def rot2euler(r):
    abs_sb = np.hypot(r[0, 2], r[1, 2])
    if abs_sb > 16 * np.finfo(float).eps:
        return np.arctan2(r[1, 2], r[0, 2]), np.arctan2(abs_sb, r[2, 2]), np.arctan2(r[2, 1], -r[2, 0])
    if r[2, 2] > 0:
        return 0.0, 0.0, np.arctan2(-r[1, 0], r[0, 0])
    return 0.0, np.pi, np.arctan2(r[1, 0], -r[0, 0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--cs", required=True)
    a = ap.parse_args()
    cs = Dataset.load(a.cs)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "p.star")
        with open(out, "wb") as f:
            r = subprocess.run([os.path.join(a.bin, "cs-to-star"), a.cs], stdout=f, stderr=subprocess.PIPE)
        if r.returncode != 0:
            print(f"cs-to-star failed: {r.stderr.decode()}")
            print("diff: 0 passed, 1 failed")
            return 1
        star = starfile.read(out)
    optics, parts = star["optics"], star["particles"]

    def check(name, ok):
        if not ok:
            failures.append(name)

    check("rows", len(parts) == len(cs))
    check("optics groups", sorted(optics["rlnOpticsGroup"]) == sorted(set(int(g) + 1 for g in cs["ctf/exp_group_id"])))
    check("defocus U", np.allclose(parts["rlnDefocusU"], cs["ctf/df1_A"], rtol=1e-6, atol=1e-3))
    check("defocus V", np.allclose(parts["rlnDefocusV"], cs["ctf/df2_A"], rtol=1e-6, atol=1e-3))
    check("defocus angle", np.allclose(parts["rlnDefocusAngle"], np.rad2deg(cs["ctf/df_angle_rad"]), atol=1e-4))
    names = [f"{i + 1:06d}@{p.lstrip('>')}" for i, p in zip(cs["blob/idx"], cs["blob/path"])]
    check("image names", list(parts["rlnImageName"]) == names)
    angles = np.array([np.rad2deg(rot2euler(expmap(np.asarray(p, dtype=np.float64)))) for p in cs["alignments3D/pose"]])
    for k, col in enumerate(["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"]):
        check(col, np.allclose(parts[col], angles[:, k], atol=1e-4))
    check("origin X", np.allclose(parts["rlnOriginXAngst"], cs["alignments3D/shift"][:, 0] * cs["alignments3D/psize_A"], atol=1e-4))
    check("random subset", list(parts["rlnRandomSubset"]) == [int(s) + 1 for s in cs["alignments3D/split"]])
    shape = cs["location/micrograph_shape"]
    check("coordinate X", np.allclose(parts["rlnCoordinateX"], np.round(cs["location/center_x_frac"] * shape[:, 1])))
    check("coordinate Y (flipped)", np.allclose(parts["rlnCoordinateY"], np.round((1 - cs["location/center_y_frac"]) * shape[:, 0])))
    for f in failures:
        print(f"star: {f} differs")
    passed = 13 - len(failures)
    print(f"diff: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
