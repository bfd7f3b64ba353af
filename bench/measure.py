"""Run a command, print wall time and the child's peak RSS as one JSON line.

usage: measure.py LABEL [--runs N] [--fresh PATH]... -- CMD...
  --runs N      run N times; "seconds" is the median, "runs" lists every time
  --fresh PATH  delete PATH before each run (an output the command writes), so that a run
                measures writing a new file, not also freeing the previous one
Before each run, everything written so far is flushed (sync), so that the kernel's write-back
of an earlier step's output does not land on the measured run. (stdout of CMD goes to /dev/null)
"""
import json, os, resource, statistics, subprocess, sys, time

label = sys.argv[1]
split = sys.argv.index("--")
opts, cmd = sys.argv[2:split], sys.argv[split + 1:]
runs, fresh = 1, []
while opts:
    flag, value, opts = opts[0], opts[1], opts[2:]
    if flag == "--runs":
        runs = int(value)
    elif flag == "--fresh":
        fresh.append(value)
    else:
        sys.exit(f"measure.py: unknown option {flag}")
times, status = [], 0
for _ in range(runs):
    for path in fresh:
        if os.path.exists(path):
            os.remove(path)
    os.sync()
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    times.append(round(time.perf_counter() - t0, 3))
    status = status or r.returncode
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
line = {"bench": label, "seconds": statistics.median(times), "peak_rss_mb": round(rss_mb, 1), "status": status}
if runs > 1:
    line["runs"] = times
print(json.dumps(line))
sys.stdout.flush()
