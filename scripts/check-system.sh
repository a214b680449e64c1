#!/bin/sh
# The system check run by `make run` and `make test`: the packages pip cannot install are listed in
# scripts/system-packages.txt and checked (and installed where allowed) by scripts/system_deps.py.
# Only Python itself is checked here, since that script needs it.
# Usage: check-system.sh PYTHON [--venv DIR]
set -u
python="${1:-python3}"
[ $# -gt 0 ] && shift
if ! command -v "$python" >/dev/null 2>&1; then
    if [ -z "${COOPTRACKS_NO_APT:-}" ] && command -v apt-get >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
        if [ "$sudo" != none ]; then
            echo "cooptracks: installing python3 (it runs everything else): $sudo apt-get install -y python3" >&2
            $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 >&2 || exit 1
            python=python3
        fi
    fi
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "cooptracks needs Python 3.11 or later. Install it with:" >&2
        echo "    sudo apt-get update && sudo apt-get install -y python3" >&2
        exit 1
    fi
fi
exec "$python" "$(dirname "$0")/system_deps.py" "$@"
