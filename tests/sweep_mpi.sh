#!/bin/sh
# sweep_mpi.sh - `xbarsim sweep` under mpirun: 1 and 2 ranks write the same table, and a sweep killed with SIGKILL resumes to it.
# Skipped (77) when xbarsim was built without MPI.
# SPDX-License-Identifier: GPL-3.0-or-later
set -u

XB_TEST=sweep_mpi
. "$(dirname "$0")/mpi_common.sh"
"$X" sweep --help 2>/dev/null | grep -q -- '--resume' || skip "$X has no sweep command"
export OMP_NUM_THREADS=1

# The table of a file: every dataset of /points, floats with all 17 digits.
dump() { h5dump -m '%.17g' -g /points "$1" | tail -n +2; }

# 1. One process (no mpirun) against two ranks, byte for byte.  The grid mixes
#    costs (rows), repeats and failing points (adc.bits = 4 cannot hold the pinned
#    adc.min = -128).
cat > "$T/a.ini" <<'EOF'
[sweep]
repeats = 2
seed = 5
metrics = mvm_rmse_lsb mvm_bias_lsb mvm_saturation_rate mvm_events_per_mvm
tile.rows = 32 64 128
adc.bits = 4 8
noise.read_lsb = 0:3:1.5
[run]
samples = 96
[adc]
min = -128
EOF
"$X" sweep "$T/a.ini" -o "$T/serial.h5" --progress=none || fail "serial sweep"
$MPIRUN -np 2 "$X" sweep "$T/a.ini" -o "$T/mpi.h5" --progress=none || fail "mpirun -np 2 sweep"
dump "$T/serial.h5" > "$T/serial.txt"
dump "$T/mpi.h5" > "$T/mpi.txt"
cmp "$T/serial.txt" "$T/mpi.txt" || fail "1 and 2 ranks differ: diff $T/serial.txt $T/mpi.txt"
grep -q 'adc.min = -128' "$T/mpi.txt" || fail "the failing points lack their message"
echo "ok: 1 and 2 ranks give the same table ($(wc -c < "$T/mpi.txt") bytes of h5dump)"

# 2. Kill -9 every rank in the middle of a sweep, resume on 2 ranks, compare with
#    an uninterrupted run on 1 rank.
cat > "$T/b.ini" <<'EOF'
[sweep]
metrics = mvm_rmse_lsb mvm_saturation_rate
noise.read_lsb = 0:2.75:0.25
integrator.model = ordered unordered
tile.rows = 128 256
[run]
samples = 6000
EOF
"$X" sweep "$T/b.ini" -o "$T/full.h5" --progress=none || fail "uninterrupted sweep"
$MPIRUN -np 2 "$X" sweep "$T/b.ini" -o "$T/part.h5" --progress=none 2>"$T/killed.log" &
MPID=$!
# Count points done so far (a reader may open the file while rank 0 writes it).
ndone() {
	HDF5_USE_FILE_LOCKING=FALSE h5dump -A 0 -y -d /points/status "$T/part.h5" 2>/dev/null |
		sed -n '/DATA {/,/}/p' | tr -c '0-9\n' ' ' | tr ' ' '\n' | grep -c '^[12]$'
}
i=0
while [ "$i" -lt 600 ]; do
	[ -f "$T/part.h5" ] && [ "$(ndone)" -ge 4 ] && break
	kill -0 "$MPID" 2>/dev/null || break
	sleep 0.05
	i=$((i + 1))
done
RANKS=$(ps -o pid= --ppid "$MPID")
[ -n "$RANKS" ] || fail "the sweep ended before it could be killed (make its points slower)"
kill -9 $RANKS
wait "$MPID" 2>/dev/null
DONE=$(ndone)
[ "$DONE" -ge 4 ] && [ "$DONE" -lt 48 ] ||
	fail "after the kill $DONE of 48 points are done (expected some, not all)"
$MPIRUN -np 2 "$X" sweep "$T/b.ini" -o "$T/part.h5" --resume --progress=none \
	2>"$T/resumed.log" || fail "resume: $(cat "$T/resumed.log")"
grep -q "$((48 - DONE)) computed" "$T/resumed.log" ||
	fail "resume computed more than the $((48 - DONE)) missing points: $(cat "$T/resumed.log")"
dump "$T/full.h5" > "$T/full.txt"
dump "$T/part.h5" > "$T/part.txt"
cmp "$T/full.txt" "$T/part.txt" || fail "killed and resumed differs from uninterrupted"
echo "ok: killed with $DONE of 48 points done, resumed the $((48 - DONE)) others, same table"

# 3. A resumed file must come from the same sweep description.
sed 's/0:2.75:0.25/0:2.75:0.5/' "$T/b.ini" > "$T/c.ini"
if "$X" sweep "$T/c.ini" -o "$T/part.h5" --resume 2>"$T/mismatch.log"; then
	fail "resumed a file made from another sweep file"
fi
grep -q 'another sweep description' "$T/mismatch.log" || fail "$(cat "$T/mismatch.log")"
echo "ok: a changed sweep file is refused on --resume"
exit 0
