#!/bin/sh
# cli.sh - command-line tests of xbarsim: exit codes and the messages users see for
# bad configuration, bad files and bad options.
# SPDX-License-Identifier: GPL-3.0-or-later
set -u
xb="${XB_BUILDDIR:-.}/xbarsim"
src="${XB_SRCDIR:-.}"
tmp=$(mktemp -d /tmp/xb_cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0 n=0

# expect CODE PATTERN CMD...: run CMD, check its exit code and that stdout+stderr
# contain PATTERN (a fixed string).
expect() {
	code=$1 pat=$2
	shift 2
	n=$((n + 1))
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$code" ]; then
		echo "FAIL: '$*' exited $rc, expected $code; output:"; echo "$out"
		fail=$((fail + 1))
	elif ! printf '%s' "$out" | grep -qF -- "$pat"; then
		echo "FAIL: '$*' output lacks '$pat'; output:"; echo "$out"
		fail=$((fail + 1))
	fi
}

expect 0 "Usage: xbarsim COMMAND" $xb --help
expect 0 "xbarsim 0." $xb --version
expect 2 "unknown command 'frobnicate'" $xb frobnicate
expect 2 "unknown option '--bogus'" $xb config --bogus
expect 2 "needs an argument" $xb config --show -s
expect 0 "Usage: xbarsim config" $xb config --help
expect 0 "Usage: xbarsim info" $xb info --help

# Configuration: resolution and its errors.
expect 0 "bits = 8" $xb config --show
expect 0 "bits = 6 " $xb config --show -s adc.bits=6
expect 0 "; bit, -s" $xb config --show -s adc.bits=6
expect 1 "-s: unknown key 'adc.bit' (did you mean 'adc.bits'?)" $xb config --show -s adc.bit=4
expect 1 "-s: adc.bits = '99': expected an integer in [1, 16]" $xb config --show -s adc.bits=99
expect 1 "-s adc.bits: expected section.key=value" $xb config --show -s adc.bits
expect 1 "$tmp/none.ini: configuration file not found" $xb config --show -c "$tmp/none.ini"
printf '[adc]\nbits = 6\n[integrator]\nmodle = ordered\n' > "$tmp/bad.ini"
expect 1 "$tmp/bad.ini:4: unknown key 'integrator.modle' (did you mean 'integrator.model'?)" \
	$xb config --show -c "$tmp/bad.ini"
printf '[adc]\nbits = 6\n' > "$tmp/good.ini"
expect 0 "$tmp/good.ini:2" $xb config --show -c "$tmp/good.ini"
expect 1 "preset 'nonesuch' not found" $xb config --show -p nonesuch
printf '[run]\npreset = nonesuch\n' > "$tmp/p.ini"
expect 1 "preset 'nonesuch' not found" $xb config --show -c "$tmp/p.ini"
expect 0 "hx " $xb presets

# HDF5 files: missing, not HDF5, truncated.
expect 1 "$tmp/none.h5" $xb info "$tmp/none.h5"
echo "not an HDF5 file" > "$tmp/text.h5"
expect 1 "$tmp/text.h5" $xb info "$tmp/text.h5"
expect 2 "expected a file name" $xb info

# Commands' own argument errors (before any work).
expect 2 "unexpected argument" $xb run extra
expect 2 "expected a number of inferences" $xb run --timed x
expect 1 "workload.model" $xb run -s workload.model="$tmp/none.h5"
expect 2 "gaussian" $xb walk --noise gaussian
expect 2 "extra" $xb walk extra
expect 1 "walk.levels" $xb walk -s walk.levels=1
expect 1 "$tmp/nonexistent" $xb walk -o "$tmp/nonexistent/w.h5"
expect 0 "Usage: xbarsim sweep" $xb sweep --help
expect 0 "Usage: xbarsim report" $xb report --help
expect 0 "Usage: xbarsim measure" $xb measure --help
expect 0 "Usage: xbarsim calibrate" $xb calibrate --help
printf '[sweep]\nmetrics = mvm_rmse_lsb\nadc.bitz = 4 6\n' > "$tmp/sw.ini"
expect 1 "adc.bitz" $xb sweep "$tmp/sw.ini" --dry-run
expect 1 "$tmp/none.h5" $xb calibrate "$tmp/none.h5" -o "$tmp/c.h5"
expect 1 "$tmp/text.h5" $xb report "$tmp/text.h5" -o "$tmp/rep"

# A small measurement and its calibration end to end: both files are valid HDF5 of
# their schema (the fits' accuracy is checked in check_calibration).
expect 0 "" $xb measure -p hx -s tile.cols=8 -o "$tmp/m.h5"
expect 0 "xbarsim-measurement" $xb info "$tmp/m.h5"
expect 0 "" $xb calibrate "$tmp/m.h5" -o "$tmp/c.h5"
expect 0 "xbarsim-calibration" $xb info "$tmp/c.h5"

# A tiny walk of the shipped MLP and its report: `report` dispatches on the schema.
if [ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
	expect 0 "walk file: $tmp/w.h5" $xb walk -s workload.model="$src/workloads/models/mlp.h5" \
		-s workload.data=fashion-mnist -s walk.samples=100 -s walk.levels=2 \
		-s walk.repeats=1 -o "$tmp/w.h5" --progress=none
	expect 0 "summary.md" $xb report "$tmp/w.h5" -o "$tmp/wrep"
	expect 0 "2.dense" cat "$tmp/wrep/midpoints.dat" "$tmp/wrep/accuracy.gp"
fi

echo "cli.sh: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
