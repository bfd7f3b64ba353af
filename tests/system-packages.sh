#!/usr/bin/env bash
# The Debian packages `make test` needs beside a Rust toolchain: says which are missing and installs
# them with apt-get, after asking (without asking when CI=true; refusing when nobody can answer).
set -euo pipefail

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need cc gcc              # builds the zstd library
need jq jq               # the end-to-end pipelines (jq 1.6 is what Debian 12 ships)
need zstd zstd           # tar --zstd archives in the job-pack and proj-import tests
need bzip2 bzip2         # tar -j archives (tests/archives.rs)
need xz xz-utils         # tar -J archives (tests/archives.rs)
need bsdtar libarchive-tools  # archives as bsdtar makes them (tests/archives.rs)
need setpriv util-linux  # runs a test as an unprivileged user
need script bsdutils     # gives a test a terminal (pty)
need python3 python3     # the differential tests' virtualenv (cryosparc-tools, PyYAML, pyarrow, starfile)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  missing+=(python3-venv)
fi
((${#missing[@]})) || exit 0

echo "make test needs these Debian packages: ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "no apt-get here: install them with your package manager and run make test again" >&2
  exit 1
fi
if [ "${CI:-}" != true ]; then
  answer=n
  if [ -t 0 ]; then
    read -r -p "install them now with apt-get? [y/N] " answer
  fi
  case $answer in
    [yY]*) ;;
    *)
      echo "not installed: run apt-get install ${missing[*]} (or CI=true make test to install without asking)" >&2
      exit 1
      ;;
  esac
fi
sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
echo "installing with apt-get: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}"
