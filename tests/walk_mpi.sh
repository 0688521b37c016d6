#!/bin/sh
# walk_mpi.sh - `xbarsim walk` under mpirun: 1 process and 2 ranks write the same walk file (all but the command line).
# Skipped (77) when xbarsim was built without MPI.
# SPDX-License-Identifier: GPL-3.0-or-later
set -u

XB_TEST=walk_mpi
. "$(dirname "$0")/mpi_common.sh"
"$X" walk --help 2>/dev/null | grep -q -- 'device' || skip "$X has no walk command with device noise"
export OMP_WAIT_POLICY=passive

# Everything but the file name and the value of the root attribute command_line
# (it names the output file), floats with all 17 digits.
dump() { h5dump -m '%.17g' "$1" | tail -n +2 | grep -v '^ *(0): "xbarsim walk '; }

# The shipped MLP on 300 Fashion-MNIST test images, 3 levels x 2 repeats: additive
# noise (every operation a site) and device read noise (the analog layers on hx tiles).
M="$XB_SRCDIR/workloads/models/mlp.h5"
[ -f "$M" ] || M="$(dirname "$0")/../workloads/models/mlp.h5"
[ -f "$M" ] || skip "no workloads/models/mlp.h5"
[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] ||
	skip "no Fashion-MNIST (Debian package dataset-fashion-mnist)"
cat > "$T/w.ini" <<EOF2
[workload]
model = $M
data = fashion-mnist
[walk]
levels = 3
level_min = 0.3
level_max = 30
repeats = 2
samples = 300
bootstrap = 50
EOF2
for noise in additive device; do
	OMP_NUM_THREADS=2 "$X" walk -c "$T/w.ini" --noise $noise -o "$T/serial_$noise.h5" \
		--progress=none > "$T/serial_$noise.txt" || fail "serial walk --noise $noise"
	OMP_NUM_THREADS=1 $MPIRUN -np 2 "$X" walk -c "$T/w.ini" --noise $noise \
		-o "$T/mpi_$noise.h5" --progress=none > "$T/mpi_$noise.txt" ||
		fail "mpirun -np 2 walk --noise $noise"
	dump "$T/serial_$noise.h5" > "$T/serial_$noise.dump"
	dump "$T/mpi_$noise.h5" > "$T/mpi_$noise.dump"
	cmp "$T/serial_$noise.dump" "$T/mpi_$noise.dump" ||
		fail "--noise $noise: 1 process and 2 ranks differ: diff $T/serial_$noise.dump $T/mpi_$noise.dump"
	grep -q "on 2 ranks" "$T/mpi_$noise.txt" || fail "--noise $noise: not run on 2 ranks"
	# the printed tables too, but for the time line and the file name
	grep -v '^time:\|^walk file:' "$T/serial_$noise.txt" > "$T/a.txt"
	grep -v '^time:\|^walk file:' "$T/mpi_$noise.txt" > "$T/b.txt"
	cmp "$T/a.txt" "$T/b.txt" || fail "--noise $noise: printed tables differ"
	echo "ok: --noise $noise: 1 process (2 threads) and 2 ranks (1 thread each) give the same walk file"
done
exit 0
