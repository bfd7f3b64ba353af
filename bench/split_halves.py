"""Split a .cs file into two that share uid (like a job's main and passthrough files).

usage: split_halves.py IN.cs A.cs B.cs   (B's rows are shuffled)
"""
import sys

import numpy as np

arr = np.load(sys.argv[1], allow_pickle=False)
names = [n for n in arr.dtype.names if n != "uid"]
half = len(names) // 2
a = arr[["uid"] + names[:half]]
b = arr[["uid"] + names[half:]]
rng = np.random.default_rng(1)
b = b[rng.permutation(len(b))]
for out, part in ((sys.argv[2], a), (sys.argv[3], b)):
    packed = np.empty(len(part), dtype=np.dtype([(n, part.dtype.fields[n][0]) for n in part.dtype.names]))
    for n in part.dtype.names:
        packed[n] = part[n]
    with open(out, "wb") as f:
        np.save(f, packed)
