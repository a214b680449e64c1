#!/bin/sh
# Checks the system packages that pip cannot provide and says exactly what to install.
missing=""
need() { # need DEBIAN_PACKAGE TEST_COMMAND...
    pkg="$1"; shift
    if ! "$@" >/dev/null 2>&1; then missing="$missing $pkg"; fi
}
have_header() { for d in /usr/include /usr/include/*-linux-gnu /usr/local/include; do [ -f "$d/$1" ] && return 0; done; return 1; }
have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }

need python3-venv python3 -c "import venv, ensurepip"
need python3-dev   sh -c "python3 -c 'import sysconfig,os,sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()[\"include\"], \"Python.h\")) else 1)'"
need gcc           sh -c "command -v gcc"
need libgmp-dev    have_header gmp.h
need libegl1       have_lib libEGL.so.1
need libgl1        have_lib libGL.so.1
need libxkbcommon0 have_lib libxkbcommon.so.0
need libfontconfig1 have_lib libfontconfig.so.1
need libdbus-1-3   have_lib libdbus-1.so.3
need libglib2.0-0  have_lib libglib-2.0.so.0
need libpulse0     have_lib libpulse.so.0

if [ -n "$missing" ]; then
    echo "cooptracks needs these system packages:$missing" >&2
    echo "install them with:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
