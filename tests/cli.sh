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

echo "cli.sh: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
