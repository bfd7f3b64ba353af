# csutils — build, test, man pages, install, benchmarks.
#   make install PREFIX=$HOME/.local   build release binaries, install them (stripped), their man
#                                      pages and their bash, zsh and fish completions
#   make install-built BIN=DIR         the same with binaries already built in DIR (no build)
#   make test                          fmt check, clippy -D warnings, every test
#   make man                           regenerate man/*.1 from the binaries, a page per subcommand
#                                      too (job-pack-tar.1); commit the result
#   make bench                         1M-row benchmarks against numpy/pandas (needs python3)

PREFIX ?= $(HOME)/.local
CARGO ?= cargo
# Where cargo puts the release binaries (it honours CARGO_TARGET_DIR); BIN=DIR names other ones.
BIN ?= $(or $(CARGO_TARGET_DIR),target)/release
BINDIR = $(abspath $(BIN))
MAN1DIR = $(PREFIX)/share/man/man1
BASHDIR = $(PREFIX)/share/bash-completion/completions
ZSHDIR = $(PREFIX)/share/zsh/site-functions
FISHDIR = $(PREFIX)/share/fish/vendor_completions.d
BINS := cs-cat cs-to-csv csv-to-cs csg-edit proj-du proj-clean job-pack proj-import cs-join cs-to-parquet cs-to-star
EXAMPLE := examples/particles.cs

.PHONY: all build deps test lint difftest man install install-built example bench fuzz clean
VENV_TEST := .venv-test
FIXTURES := tests/fixtures

all: build

build:
	$(CARGO) build --release --locked

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# The Debian packages the tests need (jq, zstd, python3-venv, …): names the missing ones and asks
# before apt-get installs them (CI=true: without asking).
deps:
	@bash tests/system-packages.sh

test: deps lint
	$(CARGO) test --workspace --locked
	$(MAKE) difftest

# Differential tests against cryosparc-tools, PyYAML, pyarrow and starfile (PyPI), in a virtualenv made here.
$(VENV_TEST)/.ready-tools-pyyaml-pyarrow-starfile:
	python3 -m venv $(VENV_TEST)
	$(VENV_TEST)/bin/pip install -q cryosparc-tools numpy pyyaml pyarrow starfile
	touch $@

difftest: build $(VENV_TEST)/.ready-tools-pyyaml-pyarrow-starfile
	$(VENV_TEST)/bin/python tests/diff/cryosparc_diff.py --bin $(BINDIR) --cases 200
	$(VENV_TEST)/bin/python tests/diff/join_diff.py --bin $(BINDIR) --cases 60 --projects-tar $(FIXTURES)/projects/projects.tar
	$(VENV_TEST)/bin/python tests/diff/star_diff.py --bin $(BINDIR) --fixtures $(FIXTURES)
	$(VENV_TEST)/bin/python tests/diff/parquet_diff.py --bin $(BINDIR) --fixtures $(FIXTURES)/cs --cases 40
	$(VENV_TEST)/bin/python tests/diff/csg_pyyaml.py --bin $(BINDIR) --cs $(FIXTURES)/cs/particles_1000.numpy.cs

# Each binary's hidden `--generate man-pages` writes its page and one per subcommand into the
# current folder; the old pages go first so that a page of a removed subcommand goes too.
man: build
	rm -f man/*.1
	for b in $(BINS); do (cd man && "$(BINDIR)/$$b" --generate man-pages) || exit 1; done

install: build
	$(MAKE) install-built

# The binaries of $(BIN), stripped, to PREFIX/bin; man/*.1 to PREFIX/share/man/man1; the bash, zsh
# and fish completions each binary generates (hidden flags left out) where those shells look for
# them. Each completion is generated into a temporary folder first, so a failure installs no
# half-written script.
install-built:
	install -d "$(PREFIX)/bin" "$(MAN1DIR)" "$(BASHDIR)" "$(ZSHDIR)" "$(FISHDIR)"
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	for b in $(BINS); do \
	  "$(BINDIR)/$$b" --generate complete-bash > "$$tmp/$$b.bash" && \
	  "$(BINDIR)/$$b" --generate complete-zsh > "$$tmp/_$$b" && \
	  "$(BINDIR)/$$b" --generate complete-fish > "$$tmp/$$b.fish" && \
	  install -s -m 755 "$(BINDIR)/$$b" "$(PREFIX)/bin/$$b" && \
	  install -m 644 "$$tmp/$$b.bash" "$(BASHDIR)/$$b" && \
	  install -m 644 "$$tmp/_$$b" "$(ZSHDIR)/_$$b" && \
	  install -m 644 "$$tmp/$$b.fish" "$(FISHDIR)/$$b.fish" || exit 1; \
	done
	install -m 644 man/*.1 "$(MAN1DIR)/"

# Runs the installed cs-cat on the example data (used by the README's quick start).
example:
	"$(PREFIX)/bin/cs-cat" --info $(EXAMPLE)
	"$(PREFIX)/bin/cs-cat" -n 2 -f uid,blob/path,ctf/df1_A,alignments3D/pose $(EXAMPLE)

bench: build
	bash bench/run.sh

fuzz:
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run read_cs -- -max_total_time=300
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run csg_roundtrip -- -max_total_time=300

clean:
	$(CARGO) clean
