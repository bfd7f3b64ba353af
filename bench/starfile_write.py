"""The Python peer of cs-to-star: numpy.load a particle file, build the same particles table in
pandas (vectorised; rotations as RELION's Euler angles of the transposed Rodrigues matrix) and
write it with starfile.write (optics and particles blocks).

usage: starfile_write.py IN.cs OUT.star
"""
import sys

import numpy as np
import pandas as pd
import starfile

cs = np.load(sys.argv[1])
n = len(cs)
pose = cs["alignments3D/pose"].astype(np.float64)
theta = np.linalg.norm(pose, axis=1)
w = pose / np.where(theta > 0, theta, 1)[:, None]
k = np.zeros((n, 3, 3))
k[:, 0, 1], k[:, 0, 2], k[:, 1, 0] = w[:, 2], -w[:, 1], -w[:, 2]
k[:, 1, 2], k[:, 2, 0], k[:, 2, 1] = w[:, 0], w[:, 1], -w[:, 0]
a = np.eye(3) + np.sin(theta)[:, None, None] * k + (1 - np.cos(theta))[:, None, None] * (k @ k)
shape = cs["location/micrograph_shape"]
psize = cs["alignments3D/psize_A"]
paths = np.char.decode(cs["blob/path"].astype(bytes)) if cs["blob/path"].dtype.kind == "S" else cs["blob/path"].astype(str)
particles = pd.DataFrame({
    "rlnImageName": [f"{i + 1:06d}@{p}" for i, p in zip(cs["blob/idx"], paths)],
    "rlnMicrographName": cs["location/micrograph_path"].astype(str),
    "rlnCoordinateX": np.round(cs["location/center_x_frac"] * shape[:, 1]).astype(int),
    "rlnCoordinateY": np.round((1 - cs["location/center_y_frac"]) * shape[:, 0]).astype(int),
    "rlnAngleRot": np.rad2deg(np.arctan2(a[:, 2, 1], a[:, 2, 0])),
    "rlnAngleTilt": np.rad2deg(np.arctan2(np.hypot(a[:, 0, 2], a[:, 1, 2]), a[:, 2, 2])),
    "rlnAnglePsi": np.rad2deg(np.arctan2(a[:, 1, 2], -a[:, 0, 2])),
    "rlnOriginXAngst": cs["alignments3D/shift"][:, 0] * psize,
    "rlnOriginYAngst": cs["alignments3D/shift"][:, 1] * psize,
    "rlnDefocusU": cs["ctf/df1_A"],
    "rlnDefocusV": cs["ctf/df2_A"],
    "rlnDefocusAngle": np.rad2deg(cs["ctf/df_angle_rad"]),
    "rlnPhaseShift": np.rad2deg(cs["ctf/phase_shift_rad"]),
    "rlnCtfBfactor": cs["ctf/bfactor"],
    "rlnOpticsGroup": cs["ctf/exp_group_id"].astype(int) + 1,
    "rlnRandomSubset": cs["alignments3D/split"].astype(int) + 1,
    "rlnClassNumber": cs["alignments3D/class"].astype(int) + 1,
})
groups = np.unique(cs["ctf/exp_group_id"], return_index=True)[1]
optics = pd.DataFrame({
    "rlnOpticsGroup": cs["ctf/exp_group_id"][groups].astype(int) + 1,
    "rlnOpticsGroupName": [f"opticsGroup{g + 1}" for g in cs["ctf/exp_group_id"][groups]],
    "rlnVoltage": cs["ctf/accel_kv"][groups],
    "rlnSphericalAberration": cs["ctf/cs_mm"][groups],
    "rlnAmplitudeContrast": cs["ctf/amp_contrast"][groups],
    "rlnImagePixelSize": cs["blob/psize_A"][groups],
    "rlnImageSize": cs["blob/shape"][groups, 0],
    "rlnImageDimensionality": 2,
})
starfile.write({"optics": optics, "particles": particles}, sys.argv[2], float_format="%.6f", overwrite=True)
