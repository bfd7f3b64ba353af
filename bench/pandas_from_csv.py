"""The Python way back: pandas.read_csv of a cs-to-csv file, then a structured array with the
template's dtypes (subarrays from name[i] columns, strings |S(max+1)) and numpy.save."""
import sys
import numpy as np
import pandas as pd

template = np.load(sys.argv[2], allow_pickle=False, mmap_mode="r")
df = pd.read_csv(sys.argv[1], keep_default_na=False)
descr = []
for name in template.dtype.names:
    base, shape = template.dtype.fields[name][0].base, template.dtype.fields[name][0].shape
    if base.kind == "S":
        width = int(df[name].astype(str).str.encode("utf-8").str.len().max()) + 1
        descr.append((name, f"|S{width}"))
    else:
        descr.append((name, base.str, shape) if shape else (name, base.str))
out = np.zeros(len(df), dtype=descr)
for name in template.dtype.names:
    shape = template.dtype.fields[name][0].shape
    if shape:
        n = int(np.prod(shape))
        cols = [f"{name}[{i}]" for i in range(n)]
        out[name] = df[cols].to_numpy().reshape((len(df),) + shape)
    elif out.dtype[name].kind == "S":
        out[name] = df[name].astype(str).str.encode("utf-8")
    else:
        out[name] = df[name].to_numpy()
np.save(sys.argv[3], out, allow_pickle=False)
