"""Differential test of cs-to-parquet: Parquet (and Arrow IPC) read back by pyarrow equals what
cryosparc-tools loads from the same .cs file.

Inputs: every fixture in tests/fixtures/cs/ and random datasets written by cryosparc-tools
(every dtype, subarrays up to 3-D, empty strings, unicode, 0 and 1 rows).

usage: parquet_diff.py --bin target/release --fixtures DIR --cases 40
Prints one line per failure and a closing line "diff: N passed, M failed".
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
from cryosparc.dataset import Dataset

sys.path.insert(0, os.path.dirname(__file__))
from cryosparc_diff import fill, random_schema, same_column  # noqa: E402


def flat(col, depth):
    """A (fixed-size) list column flattened `depth` times, as numpy or Python values."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    for _ in range(depth):
        arr = arr.flatten()
    return arr


def compare(table, dset):
    if table.num_rows != len(dset):
        return f"{table.num_rows} rows, cryosparc-tools {len(dset)}"
    if table.column_names != list(dset.fields()):
        return f"fields {table.column_names} != {list(dset.fields())}"
    for name in dset.fields():
        want = dset[name]
        shape = want.shape[1:]
        col = table.column(name)
        if want.dtype.kind == "O":
            got = flat(col, len(shape)).to_pylist()
            if got != [str(x) for x in want.ravel()]:
                return f"field {name}: strings differ"
            continue
        if want.dtype.kind == "c":
            parts = flat(col, len(shape) + 1).to_numpy(zero_copy_only=False).reshape(want.shape + (2,))
            got = np.empty(want.shape, dtype=want.dtype)
            got.real = parts[..., 0]  # (re + 1j * im would turn an infinite im into a NaN re)
            got.imag = parts[..., 1]
        else:
            got = flat(col, len(shape)).to_numpy(zero_copy_only=False).astype(want.dtype).reshape(want.shape)
            if str(flat(col, len(shape)).type) != str(pa.from_numpy_dtype(want.dtype.newbyteorder("="))):
                return f"field {name}: type {flat(col, len(shape)).type} for {want.dtype}"
        if not same_column(got, want):
            return f"field {name}: values differ"
    return None


def check(bin_dir, path, tmp):
    try:
        dset = Dataset.load(path)
    except Exception:  # a container this cryosparc-tools cannot read (legacy snappy CSDAT)
        return "skip"
    out = os.path.join(tmp, "out.parquet")
    r = subprocess.run([os.path.join(bin_dir, "cs-to-parquet"), path, "-o", out, "--force"], capture_output=True)
    if r.returncode != 0:
        return f"cs-to-parquet failed: {r.stderr.decode().strip()}"
    why = compare(pq.read_table(out), dset)
    if why:
        return "parquet: " + why
    r = subprocess.run([os.path.join(bin_dir, "cs-to-parquet"), "--arrow", path, "-o", "-"], capture_output=True)
    if r.returncode != 0:
        return f"cs-to-parquet --arrow failed: {r.stderr.decode().strip()}"
    why = compare(pa.ipc.open_stream(r.stdout).read_all(), dset)
    return "arrow: " + why if why else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--seed", type=int, default=20261125)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        inputs = sorted(glob.glob(os.path.join(a.fixtures, "*.cs")))
        for case in range(a.cases):
            fields = random_schema(rng)
            rows = int(rng.choice([0, 1, 2, 17, 300]))
            d = Dataset.allocate(rows, fields[1:])
            fill(rng, d, fields, rows)
            p = os.path.join(tmp, f"random{case}.cs")
            d.save(p)
            inputs.append(p)
        for path in inputs:
            why = check(a.bin, path, tmp)
            if why == "skip":
                continue
            if why:
                failed += 1
                print(f"{os.path.basename(path)}: {why}")
            else:
                passed += 1
    print(f"diff: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
