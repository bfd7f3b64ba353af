#!/usr/bin/env bash
# make bench: cs-cat, cs-to-csv, csv-to-cs and cs-to-star against numpy/pandas/starfile on a generated 1,000,000-row
# particle file (the 54 fields of particles_1000.numpy.cs).
# Prints one JSON line per measurement (wall seconds, peak RSS of the measured process).
set -euo pipefail
cd "$(dirname "$0")/.."
FIXTURE=tests/fixtures/cs/particles_1000.numpy.cs
ROWS=${BENCH_ROWS:-1000000}
DATA=bench-data
VENV=.venv-bench
CS_CAT=target/release/cs-cat
CS_TO_CSV=target/release/cs-to-csv
CSV_TO_CS=target/release/csv-to-cs

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q numpy pandas
fi
"$VENV/bin/python" -c 'import pyarrow, cryosparc, starfile' 2>/dev/null || "$VENV/bin/pip" install -q pyarrow cryosparc-tools starfile
PY=$VENV/bin/python
mkdir -p "$DATA"
BIG=$DATA/particles_${ROWS}.cs
SMALL=$DATA/particles_$((ROWS / 10)).cs
[ -f "$BIG" ] || "$PY" bench/gen.py "$FIXTURE" "$BIG" "$ROWS"
[ -f "$SMALL" ] || "$PY" bench/gen.py "$FIXTURE" "$SMALL" $((ROWS / 10))
echo "# $(nproc) cores; $BIG: $(stat -c %s "$BIG") bytes, $ROWS rows" >&2

m() { "$PY" bench/measure.py "$@"; }
m "cs-cat --count ($ROWS rows)" -- "$CS_CAT" --count "$BIG"
m "cs-cat --schema ($ROWS rows)" -- "$CS_CAT" --schema "$BIG"
m "cs-cat to JSON-lines ($((ROWS / 10)) rows)" -- "$CS_CAT" "$SMALL"
m "cs-cat to JSON-lines ($ROWS rows)" -- "$CS_CAT" "$BIG"
m "cs-cat to JSON-lines, 1 thread ($ROWS rows)" -- env RAYON_NUM_THREADS=1 "$CS_CAT" "$BIG"
m "cs-cat from stdin ($ROWS rows)" -- bash -c "\"$CS_CAT\" < \"$BIG\""
m "numpy np.load ($ROWS rows)" -- "$PY" -c "import numpy, sys; numpy.load(sys.argv[1], allow_pickle=False)" "$BIG"
m "cs-to-parquet ($ROWS rows)" -- target/release/cs-to-parquet --force "$BIG" -o "$DATA/out.parquet"
m "numpy.load + pyarrow write_table ($ROWS rows)" -- "$PY" bench/numpy_to_parquet.py "$BIG" "$DATA/out_py.parquet"
# cs-to-star against building the same table in numpy/pandas and writing it with starfile.write
# (pyem's csparc2star is measured by hand: it is not on the package registries; README).
m "cs-to-star ($ROWS rows)" -- target/release/cs-to-star "$BIG"
m "numpy + pandas + starfile.write, same table ($ROWS rows)" -- "$PY" bench/starfile_write.py "$BIG" "$DATA/out_py.star"
rm -f "$DATA/out_py.star"
[ -f "$DATA/half_b.cs" ] || "$PY" bench/split_halves.py "$BIG" "$DATA/half_a.cs" "$DATA/half_b.cs"
m "cs-join of two halves, B shuffled ($ROWS rows each)" -- target/release/cs-join --force "$DATA/half_a.cs" "$DATA/half_b.cs" -o "$DATA/joined.cs"
m "cryosparc-tools innerjoin + save ($ROWS rows each)" -- "$PY" bench/tools_innerjoin.py "$DATA/half_a.cs" "$DATA/half_b.cs" "$DATA/joined_py.cs"
CSV=$DATA/particles_${ROWS}.csv
RUNS=${BENCH_RUNS:-3}
m "cs-to-csv ($ROWS rows)" --runs "$RUNS" -- "$CS_TO_CSV" "$BIG"
"$CS_TO_CSV" "$BIG" > "$CSV"
echo "# $CSV: $(stat -c %s "$CSV") bytes" >&2
# cs-to-csv, csv-to-cs and their pandas peers: 3 runs each (the median is reported), every run
# writing a new file (--fresh deletes the previous output first, which is not part of the
# conversion).
OUT=$DATA/out.cs
m "csv-to-cs --like ($ROWS rows)" --runs "$RUNS" --fresh "$OUT" -- "$CSV_TO_CS" --like "$BIG" "$CSV" -o "$OUT"
m "csv-to-cs, schema inferred ($ROWS rows)" --runs "$RUNS" --fresh "$OUT" -- "$CSV_TO_CS" "$CSV" -o "$OUT"
"$CS_CAT" --schema "$BIG" > "$DATA/schema.jsonl"
m "csv-to-cs --schema, string widths unknown ($ROWS rows)" --runs "$RUNS" --fresh "$OUT" -- "$CSV_TO_CS" --schema "$DATA/schema.jsonl" "$CSV" -o "$OUT"
"$CSV_TO_CS" --force --like "$BIG" "$CSV" -o "$DATA/out.cs" && cmp "$DATA/out.cs" "$BIG" && echo "# csv round trip is byte-identical" >&2
if [ -z "${BENCH_SKIP_PANDAS:-}" ]; then
  m "pandas to_json lines ($ROWS rows)" -- "$PY" bench/pandas_to_jsonl.py "$BIG" /dev/null
  m "pandas to_csv ($ROWS rows)" --runs "$RUNS" -- "$PY" bench/pandas_to_csv.py "$BIG" /dev/null
  m "pandas read_csv + numpy.save ($ROWS rows)" --runs "$RUNS" --fresh "$DATA/out_pandas.npy" -- "$PY" bench/pandas_from_csv.py "$CSV" "$BIG" "$DATA/out_pandas.npy"
fi

# proj-du against GNU du -sLb on a generated project of many small files (warm cache: both
# walk it once before they are timed).
FILES=${BENCH_PROJECT_FILES:-60000}
PROJ=$DATA/project_${FILES}
[ -d "$PROJ" ] || { mkdir -p "$PROJ" && "$PY" bench/gen_project.py "$PROJ" "$FILES"; }
du -sLb "$PROJ/CS-bench" > /dev/null
target/release/proj-du "$PROJ/CS-bench" > /dev/null
m "du -sLb ($FILES files, one number)" -- du -sLb "$PROJ/CS-bench"
m "proj-du, per-job records ($FILES files)" -- target/release/proj-du "$PROJ/CS-bench"
m "proj-du, 1 thread ($FILES files)" -- env RAYON_NUM_THREADS=1 target/release/proj-du "$PROJ/CS-bench"
m "proj-du --table ($FILES files)" -- target/release/proj-du --table "$PROJ/CS-bench"

# job-pack tar against GNU tar -ch (both following links, both writing a file: GNU tar skips
# reading data when the archive is /dev/null).
rm -f "$DATA/gnu.tar" "$DATA/job-pack.tar"
m "GNU tar -chf ($FILES files)" -- tar -chf "$DATA/gnu.tar" -C "$PROJ" CS-bench
m "job-pack tar ($FILES files)" -- target/release/job-pack tar "$PROJ/CS-bench" -o "$DATA/job-pack.tar"
rm -f "$DATA/gnu.tar" "$DATA/job-pack.tar"
m "GNU tar -chf (one job, $((FILES / 20)) files)" -- tar -chf "$DATA/gnu.tar" -C "$PROJ/CS-bench" J2
m "job-pack tar (one job, $((FILES / 20)) files)" -- target/release/job-pack tar "$PROJ/CS-bench/J2" -o "$DATA/job-pack.tar"
rm -f "$DATA/gnu.tar" "$DATA/job-pack.tar"
