"""Run a command, print wall time and the child's peak RSS as one JSON line.

usage: measure.py LABEL -- CMD... (stdout of CMD goes to /dev/null)
"""
import json, resource, subprocess, sys, time

label = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
t0 = time.perf_counter()
r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
dt = time.perf_counter() - t0
rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"bench": label, "seconds": round(dt, 3), "peak_rss_mb": round(rss_mb, 1), "status": r.returncode}))
sys.stdout.flush()
