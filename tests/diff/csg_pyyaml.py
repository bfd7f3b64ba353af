"""PyYAML check of csg-edit: every .csg that csg-edit writes loads in PyYAML to the data
`csg-edit show` reports, and PyYAML's own `yaml.dump(data, default_flow_style=False)` of that
data gives the same bytes (cryoSPARC's layout).

usage: csg_pyyaml.py --bin target/release --cs FIXTURE.cs [--cases 60]
Prints failures and a closing line "diff: N passed, M failed".
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import yaml

TEXTS = [
    "All particles", "it's here", 'say "hi"', "a: b", "x #y", "#lead", "- dash", "1.10", "1000",
    "yes", "null", "", "ünïcode", "名前", "tab\there", "two\nlines", "trailing ", " leading",
    "2024-06-01", "v4.6.0", ">not a path", "colon:inside", "@at", "%pct", "`tick`", "comma, here",
    "word " * 25, "long " * 30 + "end", "a'b\"c",
]


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--cs", required=True)
    ap.add_argument("--cases", type=int, default=60)
    args = ap.parse_args()
    rng = random.Random(20261124)
    csg_edit = os.path.join(args.bin, "csg-edit")
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(args.cs, os.path.join(tmp, "p.cs"))
        for case in range(args.cases):
            out = os.path.join(tmp, f"g{case}.csg")
            title, desc, name = rng.choice(TEXTS), rng.choice(TEXTS), rng.choice(TEXTS[:12]) or "particles"
            r = run([csg_edit, "new", "-o", out, f"--name={name}", "--type", "particle", f"--title={title}",
                     f"--description={desc}", os.path.join(tmp, "p.cs")])
            problem = None
            if r.returncode != 0:
                problem = f"new failed: {r.stderr.strip()}"
            else:
                text = open(out, encoding="utf-8").read()
                data = yaml.safe_load(text)
                shown = json.loads(run([csg_edit, "show", out]).stdout)
                if data["group"] != {k: v for k, v in shown["group"].items() if v is not None}:
                    problem = f"group differs: {data['group']} vs {shown['group']}"
                elif {k: v["metafile"] for k, v in data["results"].items()} != {k: v["metafile"] for k, v in shown["results"].items()}:
                    problem = "metafiles differ"
                elif yaml.dump(data, default_flow_style=False) != text:
                    problem = "layout differs from PyYAML's dump:\n" + yaml.dump(data, default_flow_style=False) + "---\n" + text
            if problem:
                failed += 1
                print(f"case {case} (title {title!r}, description {desc!r}, name {name!r}): {problem}")
            else:
                passed += 1
    print(f"diff: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
