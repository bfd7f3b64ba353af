"""The Python way to CSV: load a .cs with numpy, flatten subarrays into name[i] columns,
decode strings, DataFrame.to_csv."""
import sys
import numpy as np
import pandas as pd

arr = np.load(sys.argv[1], allow_pickle=False)
cols = {}
for name in arr.dtype.names:
    col = arr[name]
    if col.dtype.kind == "S":
        cols[name] = np.char.decode(col, "utf-8")
    elif col.ndim > 1:
        flat = col.reshape(len(col), -1)
        for i in range(flat.shape[1]):
            cols[f"{name}[{i}]"] = flat[:, i]
    else:
        cols[name] = col
pd.DataFrame(cols).to_csv(sys.argv[2], index=False)
