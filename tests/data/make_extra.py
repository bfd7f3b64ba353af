"""Regenerate the extra numpy test files in this folder (numpy 2.x).

These cover what the cryosparc-tools fixtures do not: `U` (UCS-4) fields in both byte
orders, `fortran_order: True`, a `uid` stored after other fields, a file without `uid`,
and an object (`O`) field that must be refused without unpickling. Run:
    python3 tests/data/make_extra.py
"""
import os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))


def save(name, arr, fortran=False):
    path = os.path.join(here, name)
    with open(path, "wb") as f:
        if fortran:
            np.lib.format.write_array_header_1_0(
                f, {"descr": np.lib.format.dtype_to_descr(arr.dtype), "fortran_order": True, "shape": arr.shape}
            )
            f.write(arr.tobytes())
        else:
            np.save(f, arr, allow_pickle=False)


# U fields, little- and big-endian, with a subarray of U and trailing-NUL trimming.
ucs = np.zeros(3, dtype=[("uid", "<u8"), ("name/le", "<U5"), ("name/be", ">U3"), ("name/pair", "<U2", (2,))])
ucs["uid"] = [1, 2, 3]
ucs["name/le"] = ["héllo", "", "Δ"]
ucs["name/be"] = ["abc", "日本", "x"]
ucs["name/pair"] = [["a", "bb"], ["", "z"], ["é", "ü"]]
save("ucs4_fields.npy.cs", ucs)

# fortran_order True on a 1-D record array (equivalent to C order).
fo = np.zeros(2, dtype=[("uid", "<u8"), ("x", "<f4", (3,))])
fo["uid"] = [10, 18446744073709551615]
fo["x"] = [[1, 2, 3], [4.5, -0.0, 1e-7]]
save("fortran_order.npy.cs", fo, fortran=True)

# uid stored last: readers put it first, as cryosparc-tools does.
late = np.zeros(2, dtype=[("blob/idx", "<u4"), ("uid", "<u8")])
late["blob/idx"] = [7, 8]
late["uid"] = [9007199254740993, 5]
save("uid_last.npy.cs", late)

# no uid at all.
nouid = np.zeros(2, dtype=[("x", "<i2")])
nouid["x"] = [-1, 2]
save("no_uid.npy.cs", nouid)

# a pickled object column: must be refused, never unpickled.
obj = np.zeros(1, dtype=[("uid", "<u8"), ("o", "O")])
obj["o"][0] = "text"
with open(os.path.join(here, "object_field.npy.cs"), "wb") as f:
    np.save(f, obj, allow_pickle=True)
