"""Generate a cryoSPARC-like project with many files for `make bench` (proj-du vs du -sLb).

usage: gen_project.py OUT_DIR FILES
Makes OUT_DIR/CS-bench: project.json, 20 jobs with v4 job.json, FILES small files spread over
the jobs in sub-folders (extract/, motioncorrected/, ctfestimated/), relative symlinks between
jobs (as Select 2D makes), and one iterative job (J10) with three versions of a particles .cs
that name per-version data files.
"""
import json, os, sys
import numpy as np

out, total = sys.argv[1], int(sys.argv[2])
proj = os.path.join(out, "CS-bench")
os.makedirs(proj)
jobs = 20
per_job = total // jobs

def write(rel, data):
    path = os.path.join(proj, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)

def job_doc(n, results, status="completed", inputs=()):
    return {
        "uid": f"J{n}", "project_uid": "P9", "type": "class_2D_new" if results else "extract_micrographs_multi",
        "status": status, "title": f"bench job {n}",
        "output_results": results,
        "input_slot_groups": [{"connections": [{"job_uid": j, "group_name": "particles",
            "slots": [{"slot_name": "blob", "job_uid": j, "group_name": "particles",
                       "result_name": "blob", "version": v}]}]} for j, v in inputs],
    }

write("project.json", json.dumps({"uid": "P9", "title": "bench", "size": 0}, indent=4).encode() + b"\n")
for n in range(1, jobs + 1):
    results = []
    if n == 10:
        metafiles = []
        for v in range(3):
            data = f"J10/J10_{v:03d}_class_averages.mrc"
            write(data, b"\0" * 65536)
            arr = np.zeros(50, dtype=[("uid", "<u8"), ("blob/path", "S40"), ("blob/idx", "<u4")])
            arr["uid"] = np.arange(50)
            arr["blob/path"] = data.encode()
            mf = f"J10/J10_{v:03d}_class_averages.cs"
            with open(os.path.join(proj, mf), "wb") as f:
                np.save(f, arr)
            metafiles.append(mf)
        results.append({"group_name": "class_averages", "name": "blob", "passthrough": False,
                        "versions": [0, 1, 2], "metafiles": metafiles, "num_items": 50})
    write(f"J{n}/job.json", json.dumps(job_doc(n, results), indent=4).encode() + b"\n")
    for k in range(per_job):
        sub = ("extract", "motioncorrected", "ctfestimated")[k % 3]
        write(f"J{n}/{sub}/{k // 3:06d}_mic_{k}.mrc", b"\1" * (1024 + (k * 37) % 4096))
    if n > 1:
        os.symlink(f"../J{n-1}/job.json", os.path.join(proj, f"J{n}", f"J{n-1}_job.json"))
print(f"{proj}: {jobs * per_job} data files", file=sys.stderr)
