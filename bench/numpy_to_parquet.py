"""The Python way to Parquet: numpy.load a .cs file, build a pyarrow table, write_table.

usage: numpy_to_parquet.py IN.cs OUT.parquet
"""
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

arr = np.load(sys.argv[1], allow_pickle=False)
columns = {}
for name in arr.dtype.names:
    col = arr[name]
    if col.dtype.kind == "S":
        columns[name] = pa.array(np.char.decode(col, "utf-8"))
    elif col.ndim > 1:
        size = int(np.prod(col.shape[1:]))
        columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(col.reshape(-1)), size)
    else:
        columns[name] = pa.array(col)
pq.write_table(pa.table(columns), sys.argv[2])
