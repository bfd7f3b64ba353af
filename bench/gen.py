"""Make a large particle file with the 54 fields of particles_1000.numpy.cs (numpy format).

usage: gen.py FIXTURE OUT ROWS
Rows are the fixture's rows repeated, with fresh random 64-bit uids, written with numpy.save
(what cryosparc-tools Dataset.save does).
"""
import sys
import numpy as np

src, out, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = np.load(src, allow_pickle=False)
idx = np.arange(rows) % len(base)
arr = base[idx]
arr["uid"] = np.random.default_rng(1).integers(0, 2**64 - 1, size=rows, dtype=np.uint64, endpoint=True)
with open(out, "wb") as f:
    np.save(f, arr, allow_pickle=False)
