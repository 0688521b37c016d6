# mpi_common.sh - the set-up shared by the MPI tests of the command (sourced, not run).
# Skips (77) without an MPI build, the program, mpirun or h5dump; sets B (build
# directory), X (the program), MPIRUN, and T, a temporary directory removed on exit.
# The sourcing script sets XB_TEST (its name, for the temporary directory) first.
# SPDX-License-Identifier: GPL-3.0-or-later

B=${XB_BUILDDIR:-.}
X=${XB_XBARSIM:-$B/xbarsim}      # XB_XBARSIM: another build of the command

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

grep -q '^#define XB_HAVE_MPI 1' "$B/config.h" 2>/dev/null ||
	skip "built without MPI (configure --with-mpi)"
[ -x "$X" ] || skip "no xbarsim program at $X"
command -v mpirun >/dev/null || skip "mpirun not found (Debian package openmpi-bin)"
command -v h5dump >/dev/null || skip "h5dump not found (Debian package hdf5-tools)"

# As root Open MPI wants to be told; oversubscribing lets 2 ranks run on any machine.
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
export SYSTEMC_DISABLE_COPYRIGHT_MESSAGE=1
T=$(mktemp -d "${TMPDIR:-/tmp}/xb_${XB_TEST:-mpi}.XXXXXX") || fail "mktemp"
trap 'rm -rf "$T"' EXIT
