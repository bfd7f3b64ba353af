"""The Python way: load a .cs with numpy, build a pandas DataFrame (subarrays as lists,
strings decoded), write JSON-lines with DataFrame.to_json(orient="records", lines=True)."""
import sys
import numpy as np
import pandas as pd

arr = np.load(sys.argv[1], allow_pickle=False)
cols = {}
for name in arr.dtype.names:
    col = arr[name]
    if col.dtype.kind == "S":
        cols[name] = [b.decode() for b in col]
    elif col.ndim > 1:
        cols[name] = col.tolist()
    else:
        cols[name] = col
df = pd.DataFrame(cols)
df.to_json(sys.argv[2], orient="records", lines=True)
