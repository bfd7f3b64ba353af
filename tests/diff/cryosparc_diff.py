"""Differential test against cryosparc-tools (the reference implementation of the .cs format).

For random schemas (every dtype, subarray shapes, empty strings, unicode, 0, 1 and many rows):
  1. files written by cryosparc-tools (numpy and CSDAT) are read by cs-cat with equal values;
  2. files written by csv-to-cs (numpy, CSDAT lz4, CSDAT uncompressed; from JSON-lines and from
     cs-to-csv CSV) load in cryosparc-tools with equal values.

usage: cryosparc_diff.py --bin target/release --cases 200 [--seed N]
Prints one line per failure and a closing line "diff: N passed, M failed".
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from cryosparc.dataset import CSDAT_FORMAT, Dataset

NUMERIC = ["|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f4", "<f8", "<c8", "<c16"]
WORDS = ["", "a", "J5/extract/p.mrc", "héllo", "名前", "quote \" and , comma", "tab\there", "line\nbreak", "x" * 70]


def random_schema(rng):
    n = int(rng.integers(0, 7))
    fields = [("uid", "<u8")]
    used = {"uid"}
    for i in range(n):
        slot = rng.choice(["blob", "ctf", "alignments3D", "ünï", "x"])
        name = f"{slot}/f{i}"
        if name in used:
            continue
        used.add(name)
        if rng.random() < 0.2:
            fields.append((name, "O"))
        else:
            dt = str(rng.choice(NUMERIC))
            r = rng.random()
            if r < 0.6:
                fields.append((name, dt))
            else:
                ndim = int(rng.integers(1, 4))
                shape = tuple(int(x) for x in rng.integers(1, 4, size=ndim))
                fields.append((name, dt, shape))
    return fields


def fill(rng, dset, fields, rows):
    dset["uid"] = rng.integers(0, 2**64 - 1, size=rows, dtype=np.uint64, endpoint=True)
    for f in fields[1:]:
        name, dt = f[0], f[1]
        col = dset[name]
        if dt == "O":
            for r in range(rows):
                col[r] = WORDS[int(rng.integers(0, len(WORDS)))]
            continue
        npdt = np.dtype(dt)
        size = col.size
        if npdt.kind in "iu":
            info = np.iinfo(npdt)
            vals = rng.integers(info.min, info.max, size=size, dtype=npdt, endpoint=True)
            edges = np.array([info.min, info.max, 0], dtype=npdt)
            mask = rng.random(size) < 0.2
            vals[mask] = rng.choice(edges, size=int(mask.sum()))
        elif npdt.kind == "f":
            vals = rng.standard_normal(size).astype(npdt) * npdt.type(10.0) ** rng.integers(-30, 30, size=size).astype(npdt)
            specials = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(npdt).tiny / 4, np.finfo(npdt).max], dtype=npdt)
            mask = rng.random(size) < 0.15
            vals[mask] = rng.choice(specials, size=int(mask.sum()))
        else:
            part = np.float32 if npdt.itemsize == 8 else np.float64
            vals = (rng.standard_normal(size) + 1j * rng.standard_normal(size)).astype(npdt)
            del part
        col[...] = vals.reshape(col.shape)


def same_column(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "O" or b.dtype.kind == "O":
        return [str(x) for x in a.ravel()] == [str(x) for x in b.ravel()]
    if a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        fa = a.view(np.uint8).reshape(a.shape + (-1,)) if a.size else a
        fb = b.view(np.uint8).reshape(b.shape + (-1,)) if b.size else b
        nan = np.isnan(a) if a.dtype.kind == "f" else (np.isnan(a.real) | np.isnan(a.imag))
        nan_b = np.isnan(b) if b.dtype.kind == "f" else (np.isnan(b.real) | np.isnan(b.imag))
        if not np.array_equal(nan, nan_b):
            return False
        keep = ~nan
        return np.array_equal(np.asarray(fa)[keep], np.asarray(fb)[keep]) if a.size else True
    return np.array_equal(a, b)


def from_json_value(v):
    if isinstance(v, list):
        return [from_json_value(x) for x in v]
    if v == "NaN":
        return float("nan")
    if v == "Infinity":
        return float("inf")
    if v == "-Infinity":
        return float("-inf")
    return v


def check_cs_cat(bin_dir, path, dset):
    out = subprocess.run([os.path.join(bin_dir, "cs-cat"), path], capture_output=True)
    if out.returncode != 0:
        return f"cs-cat failed: {out.stderr.decode()}"
    rows = [json.loads(l) for l in out.stdout.decode().splitlines()]
    if len(rows) != len(dset):
        return f"cs-cat gave {len(rows)} rows, cryosparc-tools {len(dset)}"
    for name in dset.fields():
        want = dset[name]
        got = [from_json_value(r[name]) for r in rows]
        if want.dtype.kind == "O":
            ok = [str(x) for x in want] == got
        elif want.dtype.kind == "c":
            arr = np.array(got, dtype=np.float64 if want.dtype.itemsize == 16 else np.float32).reshape(want.shape + (2,)) if len(got) else np.zeros(want.shape + (2,))
            cplx = (arr[..., 0] + 1j * arr[..., 1]).astype(want.dtype) if len(got) else want
            ok = same_column(cplx, want)
        else:
            arr = np.array(got, dtype=want.dtype).reshape(want.shape) if len(got) else want
            ok = same_column(arr, want)
        if not ok:
            return f"cs-cat differs in field {name}"
    return None


def check_written(bin_dir, src, dset, tmp, tag, pipeline):
    out = os.path.join(tmp, f"out_{tag}.cs")
    r = subprocess.run(["bash", "-c", "set -o pipefail; " + pipeline.format(b=bin_dir, src=src, out=out)], capture_output=True)
    if r.returncode != 0:
        return f"{tag}: {r.stderr.decode().strip()}"
    back = Dataset.load(out)
    if list(back.fields()) != list(dset.fields()):
        return f"{tag}: fields {list(back.fields())} != {list(dset.fields())}"
    if len(back) != len(dset):
        return f"{tag}: {len(back)} rows != {len(dset)}"
    for name in dset.fields():
        if not same_column(back[name], dset[name]):
            return f"{tag}: field {name} differs"
    os.remove(out)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261123)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    passed = failed = 0
    b = args.bin
    pipelines = {
        "jsonl-numpy": "{b}/cs-cat --int64-as-string {src} | {b}/csv-to-cs --like {src} -o {out}",
        "jsonl-csdat": "{b}/cs-cat {src} | {b}/csv-to-cs --like {src} --format csdat -o {out}",
        "csv-csdat-none": "{b}/cs-to-csv {src} | {b}/csv-to-cs --like {src} --format csdat --compress none -o {out}",
        "csv-numpy": "{b}/cs-to-csv {src} | {b}/csv-to-cs --like {src} -o {out}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(args.cases):
            fields = random_schema(rng)
            rows = int(rng.choice([0, 1, int(rng.integers(2, 40)), 300]))
            dset = Dataset.allocate(rows, fields)
            fill(rng, dset, fields, rows)
            problems = []
            for fmt_name, fmt in [("numpy", None), ("csdat", CSDAT_FORMAT)]:
                src = os.path.join(tmp, f"case{case}.{fmt_name}.cs")
                if fmt is None:
                    dset.save(src)
                else:
                    dset.save(src, format=fmt)
                p = check_cs_cat(b, src, dset)
                if p:
                    problems.append(f"read {fmt_name}: {p}")
                if fmt is None:
                    for tag, pl in pipelines.items():
                        p = check_written(b, src, dset, tmp, tag, pl)
                        if p:
                            problems.append(f"write {p}")
                os.remove(src)
            if problems:
                failed += 1
                print(f"case {case} (seed {args.seed}, fields {fields}, rows {rows}):", "; ".join(problems))
            else:
                passed += 1
    print(f"diff: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
