"""Differential test of cs-join against cryosparc-tools Dataset.innerjoin.

Random pairs and triples of datasets that share some uids (in other orders), with fields of every
dtype, some of them in several inputs: `cs-join A B [C] -o OUT` must load in cryosparc-tools with
the fields (in order), rows (in order) and values of `A.innerjoin(B, C)`; the JSON-lines of
`cs-join A B` must equal cs-cat of that file.

Also every output of fixture tree A (tests/fixtures/projects/projects.tar) made of several
metafiles: `cs-join` of its final metafiles equals cryosparc-tools' innerjoin of them.

usage: join_diff.py --bin target/release --cases 60 [--seed N] [--projects-tar projects.tar]
Prints one line per failure and a closing line "diff: N passed, M failed".
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from cryosparc.dataset import Dataset

sys.path.insert(0, os.path.dirname(__file__))
from cryosparc_diff import fill, random_schema, same_column  # noqa: E402


def make(rng, uids, fields):
    dset = Dataset.allocate(len(uids), fields[1:])
    fill(rng, dset, fields, len(uids))
    dset["uid"] = np.array(uids, dtype=np.uint64)
    return dset


def one_case(rng, bin_dir, tmp):
    pool = rng.integers(0, 2**64 - 1, size=int(rng.integers(0, 40)), dtype=np.uint64, endpoint=True)
    pool = list(dict.fromkeys(int(u) for u in pool))
    n_inputs = int(rng.integers(2, 4))
    schemas = [random_schema(rng) for _ in range(n_inputs)]
    # Share one field (same dtype) between the first and the last input: the last one's wins.
    shared = ("shared/v", "<f4")
    schemas[0].append(shared)
    schemas[-1].append(shared)
    for k, s in enumerate(schemas):
        seen = set()
        schemas[k] = [f for f in s if not (f[0] in seen or seen.add(f[0]))]
    inputs = []
    for k, fields in enumerate(schemas):
        uids = [u for u in pool if rng.random() < 0.8]
        rng.shuffle(uids)
        uids += [int(x) for x in rng.integers(0, 2**63, size=int(rng.integers(0, 3)))]
        uids = list(dict.fromkeys(uids))
        # field names must differ between inputs except the shared one
        renamed = [fields[0]] + [((f[0] if f[0] == shared[0] else f"i{k}_{f[0]}"),) + tuple(f[1:]) for f in fields[1:]]
        inputs.append(make(rng, uids, renamed))
    paths = []
    for k, d in enumerate(inputs):
        p = os.path.join(tmp, f"in{k}.cs")
        d.save(p)
        paths.append(p)
    want = inputs[0].innerjoin(*inputs[1:])
    out = os.path.join(tmp, "joined.cs")
    r = subprocess.run([os.path.join(bin_dir, "cs-join"), *paths, "-o", out, "--force"], capture_output=True)
    if r.returncode != 0:
        return f"cs-join failed: {r.stderr.decode().strip()}"
    got = Dataset.load(out)
    if list(got.fields()) != list(want.fields()):
        return f"fields {list(got.fields())} != {list(want.fields())}"
    if len(got) != len(want):
        return f"{len(got)} rows != {len(want)}"
    for name in want.fields():
        if not same_column(got[name], want[name]):
            return f"field {name} differs"
    jl = subprocess.run([os.path.join(bin_dir, "cs-join"), *paths], capture_output=True)
    cat = subprocess.run([os.path.join(bin_dir, "cs-cat"), out], capture_output=True)
    if jl.returncode != 0 or jl.stdout != cat.stdout:
        return "JSON-lines of cs-join differ from cs-cat of its -o file"
    return None


def fixture_outputs(bin_dir, tar, tmp):
    """(label, failure or None) for every multi-file output of fixture tree A."""
    import json
    import tarfile

    with tarfile.open(tar) as t:
        t.extractall(tmp, filter="tar")
    project = os.path.join(tmp, "CS-t20s-demo")
    results = []
    for job in sorted(os.listdir(project)):
        jj = os.path.join(project, job, "job.json")
        if not os.path.isfile(jj):
            continue
        doc = json.load(open(jj))
        groups = {}
        for r in doc.get("output_results", []):
            if r["metafiles"]:
                m = r["metafiles"][0] if r["passthrough"] else r["metafiles"][-1]
                files = groups.setdefault(r["group_name"], [])
                if m not in files:
                    files.append(m)
        for group, files in groups.items():
            if len(files) < 2:
                continue
            paths = [os.path.join(project, f) for f in files]
            want = Dataset.load(paths[0]).innerjoin(*[Dataset.load(p) for p in paths[1:]])
            out = os.path.join(tmp, "fixture_join.cs")
            r = subprocess.run([os.path.join(bin_dir, "cs-join"), *paths, "-o", out, "--force"], capture_output=True)
            label = f"{job} {group}"
            if r.returncode != 0:
                results.append((label, r.stderr.decode().strip()))
                continue
            got = Dataset.load(out)
            bad = list(got.fields()) != list(want.fields()) or len(got) != len(want)
            bad = bad or any(not same_column(got[n], want[n]) for n in want.fields())
            results.append((label, "differs from innerjoin" if bad else None))
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--projects-tar")
    ap.add_argument("--seed", type=int, default=20261124)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(a.cases):
            why = one_case(rng, a.bin, tmp)
            if why:
                failed += 1
                print(f"join case {case}: {why}")
            else:
                passed += 1
        if a.projects_tar:
            checked = fixture_outputs(a.bin, a.projects_tar, tmp)
            if len(checked) < 5:
                failed += 1
                print(f"only {len(checked)} multi-file outputs found in {a.projects_tar}")
            for label, why in checked:
                if why:
                    failed += 1
                    print(f"fixture {label}: {why}")
                else:
                    passed += 1
    print(f"diff: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
