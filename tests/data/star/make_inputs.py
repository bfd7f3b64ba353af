"""Makes the .cs inputs of the pyem reference STAR files in this folder from
particles_1000.numpy.cs (numpy + cryosparc-tools conventions; fixed seeds, so the files are
reproducible). See README.md for how pyem's outputs were made from them.

usage: python make_inputs.py PATH/TO/particles_1000.numpy.cs
"""
import sys

import numpy as np
import numpy.lib.recfunctions as rfn

src = np.load(sys.argv[1])
rng = np.random.default_rng(20261203)


def save(name, arr):
    with open(name, "wb") as f:
        np.save(f, arr)


# Main file (alignments) and passthrough (blob, ctf, location) of the same particles; the
# passthrough's rows are shuffled and 25 particles are missing from it.
main_names = ["uid"] + [n for n in src.dtype.names if n.startswith(("blob/", "alignments3D/"))]
pt_names = ["uid"] + [n for n in src.dtype.names if n.startswith(("ctf/", "location/", "pick_stats/"))]
save("passthrough_main.cs", rfn.repack_fields(src[main_names]))
order = rng.permutation(len(src))[25:]
save("passthrough_particles.cs", rfn.repack_fields(src[pt_names][order]))

# Helical particles: filament uid and in-plane filament angle (radians), 200 rows.
hel = src[:200]
dt = hel.dtype.descr + [("filament/filament_uid", "<u8"), ("filament/filament_pose", "<f4")]
out = np.zeros(len(hel), dtype=dt)
for n in hel.dtype.names:
    out[n] = hel[n]
out["filament/filament_uid"] = (np.arange(200, dtype=np.uint64) // np.uint64(10)) + np.uint64(10**19)
out["filament/filament_pose"] = rng.uniform(-np.pi, np.pi, 200).astype(np.float32)
save("helical_200.cs", out)

# A cryoSPARC <= 4.4 3D classification: four alignments_class_N slots, 300 rows.
base = [n for n in src.dtype.names if not n.startswith("alignments3D/")]
cls = rfn.repack_fields(src[:300][base])
dt = cls.dtype.descr
slot = [("class_posterior", "<f4"), ("class", "<u4"), ("pose", "<f4", (3,)), ("shift", "<f4", (2,)),
        ("psize_A", "<f4"), ("split", "<u4")]
for k in range(4):
    dt = dt + [(f"alignments_class_{k}/{s[0]}",) + s[1:] for s in slot]
out = np.zeros(300, dtype=dt)
for n in cls.dtype.names:
    out[n] = cls[n]
post = rng.dirichlet(np.ones(4), 300).astype(np.float32)
split = rng.integers(0, 2, 300)
for k in range(4):
    out[f"alignments_class_{k}/class_posterior"] = post[:, k]
    out[f"alignments_class_{k}/class"] = k
    out[f"alignments_class_{k}/pose"] = rng.normal(0, 1.5, (300, 3)).astype(np.float32)
    out[f"alignments_class_{k}/shift"] = rng.normal(0, 3, (300, 2)).astype(np.float32)
    out[f"alignments_class_{k}/psize_A"] = 1.0825
    out[f"alignments_class_{k}/split"] = split
save("classes4_300.cs", out)

# The same classification as cryoSPARC >= 4.5 writes it: alignments3D_multi/* subarrays.
dt = cls.dtype.descr + [("alignments3D_multi/class_posterior", "<f4", (4,)),
                        ("alignments3D_multi/class", "<u4", (4,)),
                        ("alignments3D_multi/pose", "<f4", (4, 3)),
                        ("alignments3D_multi/shift", "<f4", (4, 2)),
                        ("alignments3D_multi/psize_A", "<f4", (4,)),
                        ("alignments3D_multi/split", "<u4")]
multi = np.zeros(300, dtype=dt)
for n in cls.dtype.names:
    multi[n] = cls[n]
for k in range(4):
    for s in ["class_posterior", "class", "pose", "shift", "psize_A"]:
        multi[f"alignments3D_multi/{s}"][:, k] = out[f"alignments_class_{k}/{s}"]
multi["alignments3D_multi/split"] = split
save("multi4_300.cs", multi)

# Beam tilt and anisotropic magnification as cryoSPARC writes them: one value per exposure group.
bt = src[:300].copy()
for g in np.unique(bt["ctf/exp_group_id"]):
    rows = bt["ctf/exp_group_id"] == g
    bt["ctf/tilt_A"][rows] = rng.normal(0, 400, 2).astype(np.float32)
    bt["ctf/anisomag"][rows] = np.array([1.01, 0.003, -0.002, 0.99], dtype=np.float32) * (1 + 0.001 * g)
save("beamtilt_300.cs", bt)
