"""cryosparc-tools' join: Dataset.load two files, innerjoin, save.

usage: tools_innerjoin.py A.cs B.cs OUT.cs
"""
import sys

from cryosparc.dataset import Dataset

Dataset.load(sys.argv[1]).innerjoin(Dataset.load(sys.argv[2])).save(sys.argv[3])
