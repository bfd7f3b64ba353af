"""cs-to-star against pyem's own output: every reference STAR file in tests/fixtures/star/ (written by
pyem's csparc2star at commit de18347, see its README) is read with the `starfile` package (PyPI),
and so is cs-to-star's output for the same input and options. Rows are matched on rlnImageName
(pyem sorts them); every column pyem writes must be present with pyem's value: numbers within
float32 printing precision, angles equal as RELION rotation matrices within 1e-4, integers and
text exactly. Also: values with spaces, '#' and STAR syntax read back unchanged; a quote or a
newline is refused with nothing written.

usage: star_diff.py --bin target/release --fixtures tests/fixtures
Prints one line per failure and a closing line "diff: N passed, M failed".
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import starfile

# Deliberate differences: shifts are converted to Å with the alignment's own psize_A (here twice
# blob/psize_A: the 2D classification ran at box 128); pyem uses blob/psize_A unless given
# --boxsize, and the --boxsize 128 references show the same values as ours.
ORIGINS = {"rlnOriginXAngst", "rlnOriginYAngst"}
# (inputs, cs-to-star options, pyem's reference file, columns not compared), under tests/fixtures/
CASES = [
    (["cs/particles_1000.numpy.cs"], [], "star/particles_1000.numpy.pyem.star"),
    (["star/particles_2d_500.numpy.cs"], [], "star/particles_2d_500.numpy.pyem.star", ORIGINS),
    (["star/particles_2d_500.numpy.cs"], [], "star/particles_2d_500.boxsize_128.pyem.star"),
    (["cs/particles_1000.numpy.cs"], ["--relion2"], "star/particles_1000.relion2.pyem.star"),
    (["cs/particles_1000.numpy.cs"], ["--strip-uid", "--micrograph-path", "/data/mics"],
     "star/particles_1000.strip_uid.micrograph_path.pyem.star"),
    (["cs/particles_1000.numpy.cs"], ["--strip-uid=1"], "star/particles_1000.strip_uid_1.pyem.star"),
    (["cs/particles_1000.numpy.cs"], ["--noswapxy", "--invertx", "--inverty"],
     "star/particles_1000.noswapxy.invertx.inverty.pyem.star"),
    (["star/passthrough_main.cs", "star/passthrough_particles.cs"], [], "star/passthrough.pyem.star"),
    (["star/helical_200.cs"], [], "star/helical_200.pyem.star"),
    (["star/classes4_300.cs"], [], "star/classes4_300.pyem.star"),
    (["star/classes4_300.cs"], ["--class", "2", "--class", "4"], "star/classes4_300.class_2_4.pyem.star"),
    (["star/multi4_300.cs"], [], "star/multi4_300.pyem.star"),
    (["star/particles_2d_500.numpy.cs"], ["--class", "3"], "star/particles_2d_500.class_3.boxsize_128.pyem.star"),
    (["star/beamtilt_300.cs"], [], "star/beamtilt_300.ctf_parameters.pyem.star"),
]
ANGLES = ["rlnAngleRot", "rlnAngleTilt", "rlnAnglePsi"]
# Angles pyem computes in float32 from a difference (π/2 − filament pose): equal within 1e-4°.
ANGLE_LIKE = {"rlnAnglePsiPrior"}


def euler_matrix(rot, tilt, psi):
    """RELION's Euler_angles2matrix (degrees), for many particles at once."""
    a, b, g = (np.deg2rad(np.asarray(x, dtype=np.float64)) for x in (rot, tilt, psi))
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return np.stack([
        np.stack([cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb], -1),
        np.stack([-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb], -1),
        np.stack([sc, ss, cb], -1),
    ], -2)


def tables(path):
    t = starfile.read(path, always_dict=True)
    if "particles" in t:
        return t.get("optics"), t["particles"]
    return None, t["images"]


def same_values(ours, ref, atol=1.5e-6):
    if pd.api.types.is_numeric_dtype(ref):
        a = np.asarray(ours, dtype=np.float64)
        b = np.asarray(ref, dtype=np.float64)
        if pd.api.types.is_integer_dtype(ref):
            return np.array_equal(np.asarray(ours), np.asarray(ref))
        return np.allclose(a, b, rtol=4e-7, atol=atol)
    return list(map(str, ours)) == list(map(str, ref))


def compare(ours_path, ref_path, skip=()):
    """The differences between our STAR file and pyem's, as messages."""
    problems = []
    ours_optics, ours = tables(ours_path)
    ref_optics, ref = tables(ref_path)
    if len(ours) != len(ref):
        return [f"{len(ours)} particles, pyem has {len(ref)}"]
    ours = ours.set_index("rlnImageName", drop=False)
    ref = ref.set_index("rlnImageName", drop=False)
    if not ours.index.is_unique or set(ours.index) != set(ref.index):
        return ["the image names differ from pyem's"]
    ours = ours.loc[ref.index]
    for c in ref.columns:
        atol = 1e-4 if c in ANGLE_LIKE else 1.5e-6
        if c not in ours.columns:
            problems.append(f"column {c} is missing")
        elif c not in ANGLES and c not in skip and not same_values(ours[c], ref[c], atol):
            bad = np.flatnonzero(~np.isclose(np.asarray(ours[c], float), np.asarray(ref[c], float),
                                             rtol=4e-7, atol=1.5e-6)) if pd.api.types.is_numeric_dtype(ref[c]) else []
            where = f" (first at {ref.index[bad[0]]}: {ours[c].iloc[bad[0]]} vs {ref[c].iloc[bad[0]]})" if len(bad) else ""
            problems.append(f"column {c} differs{where}")
    if set(ANGLES) <= set(ref.columns) and set(ANGLES) <= set(ours.columns):
        m_ours = euler_matrix(*(ours[c] for c in ANGLES))
        m_ref = euler_matrix(*(ref[c] for c in ANGLES))
        worst = np.abs(m_ours - m_ref).max()
        if worst > 1e-4:
            problems.append(f"rotations differ from pyem's by up to {worst:.3g}")
    elif "rlnAnglePsi" in ref.columns and "rlnAnglePsi" in ours.columns:
        d = (np.asarray(ours["rlnAnglePsi"]) - np.asarray(ref["rlnAnglePsi"]) + 180) % 360 - 180
        if np.abs(d).max() > 1e-4:
            problems.append("rlnAnglePsi differs")
    if ref_optics is not None:
        if ours_optics is None:
            return problems + ["no optics table"]
        o = ours_optics.set_index("rlnOpticsGroup", drop=False)
        r = ref_optics.set_index("rlnOpticsGroup", drop=False)
        if set(o.index) != set(r.index):
            problems.append(f"optics groups {sorted(o.index)}, pyem has {sorted(r.index)}")
        else:
            o = o.loc[r.index]
            for c in r.columns:
                if c not in o.columns or not same_values(o[c], r[c]):
                    problems.append(f"optics column {c} differs or is missing")
    return problems


def check_text_values(cs_bin, tmp, data):
    """Paths with spaces, '#' and STAR syntax read back unchanged; quotes and newlines are refused."""
    from cryosparc.dataset import Dataset
    problems = []
    src = Dataset.load(os.path.join(data, "cs", "particles_1000.numpy.cs")).slice(0, 6)
    odd = ["with space/a.mrc", "hash#1.mrc", "_leading.mrc", "data_x.mrc", "loop_", "é ü.mrc"]
    src["blob/path"] = odd
    src["location/micrograph_path"] = [f"mics/{p}" for p in odd]
    path = os.path.join(tmp, "odd.cs")
    src.save(path)
    out = os.path.join(tmp, "odd.star")
    with open(out, "wb") as f:
        r = subprocess.run([cs_bin, path], stdout=f, stderr=subprocess.PIPE)
    if r.returncode != 0:
        return [f"paths with spaces/#: exit {r.returncode}: {r.stderr.decode()}"]
    _, parts = tables(out)
    want = [f"{i + 1:06d}@{p}" for i, p in zip(src["blob/idx"], odd)]
    if list(parts["rlnImageName"]) != want:
        problems.append(f"image names read back as {list(parts['rlnImageName'])}")
    if list(parts["rlnMicrographName"]) != [f"mics/{p}" for p in odd]:
        problems.append(f"micrograph names read back as {list(parts['rlnMicrographName'])}")
    for bad in ['a"b.mrc', "a'b.mrc", "a\nb.mrc"]:
        src["blob/path"] = [bad] + odd[1:]
        src.save(path)
        r = subprocess.run([cs_bin, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = r.stderr.decode()
        if r.returncode != 1 or r.stdout or "row 0, field blob/path" not in err or err.count("\n") != 2:
            problems.append(f"{bad!r}: exit {r.returncode}, {len(r.stdout)} bytes out, stderr {err!r}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fixtures", required=True)
    a = ap.parse_args()
    cs_bin = os.path.join(a.bin, "cs-to-star")
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for inputs, opts, ref, *skip in CASES:
            out = os.path.join(tmp, "out.star")
            with open(out, "wb") as f:
                r = subprocess.run([cs_bin, *[os.path.join(a.fixtures, i) for i in inputs], *opts],
                                   stdout=f, stderr=subprocess.PIPE)
            problems = ([f"exit {r.returncode}: {r.stderr.decode().strip()}"] if r.returncode
                        else compare(out, os.path.join(a.fixtures, ref), *skip))
            for p in problems:
                print(f"star: {ref}: {p}")
            failed += bool(problems)
            passed += not problems
        problems = check_text_values(cs_bin, tmp, a.fixtures)
        for p in problems:
            print(f"star: text values: {p}")
        failed += bool(problems)
        passed += not problems
    print(f"diff: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
