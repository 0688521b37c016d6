#!/bin/sh
# install-deps.sh - install the Debian 12 packages xbarsim builds and runs with.
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Idempotent: packages already present are left alone.  Runs as root, or
# through sudo when it is not root.  Set XBARSIM_NO_MPI=1 to skip Open MPI.
set -eu

pkgs="build-essential autoconf automake libtool pkg-config help2man
 libsystemc-dev libhdf5-dev hdf5-tools libgsl-dev check libinih-dev
 librandom123-dev libopenblas-dev libdnnl-dev libespeak-ng-dev espeak-ng
 libsamplerate0-dev libfftw3-dev zlib1g-dev gnuplot-nox valgrind
 dataset-fashion-mnist pocketsphinx-testdata"
[ "${XBARSIM_NO_MPI:-0}" = 1 ] || pkgs="$pkgs libopenmpi-dev openmpi-bin libhdf5-openmpi-dev"

missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=; else sudo=sudo; fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
