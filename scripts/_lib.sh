# shellcheck shell=bash
# Shared by scripts/demo, scripts/test and .ci/run: find Python 3.11+, make .venv, install siyu.
# Sourced, not run. Everything it prints starts with "siyu:" so it is easy to tell from tool output.

SIYU_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$SIYU_ROOT/.venv"

say() { printf 'siyu: %s\n' "$*" >&2; }
die() { printf 'siyu: error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = "0" ]; }

# apt_install PKG... : install Debian packages when running as root, else tell exactly what to run.
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing: $*. This machine has no apt-get; install the equivalent of the Debian packages: $*"
  fi
  if ! is_root; then
    die "missing: $*. Install them with:  sudo apt-get install -y $*"
  fi
  say "installing Debian packages: $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed; check the network or the apt sources"
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# ensure_venv [EXTRAS] : .venv with siyu installed editable (pinned dependencies from pyproject.toml).
# Re-installs only when pyproject.toml or the extras changed since the last install.
ensure_venv() {
  local extras="${1:-}" python spec stamp want
  if [ ! -x "$VENV/bin/python" ]; then
    python="$(find_python)" || die "siyu needs Python 3.11 or newer. On Debian:  apt-get install -y python3 python3-venv"
    if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      apt_install python3-venv
    fi
    say "creating $VENV with $("$python" --version 2>&1)"
    "$python" -m venv "$VENV" || die "could not create $VENV (on Debian: apt-get install -y python3-venv)"
  fi
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  stamp="$VENV/.siyu-installed"
  want="$(cat "$SIYU_ROOT/pyproject.toml" | sha256sum | cut -c1-16) $spec"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/siyu" ]; then
    return 0
  fi
  # An install with more extras also satisfies fewer: ".[dev]" covers ".".
  if [ -f "$stamp" ] && [ "$spec" = "." ] && [ "$(cut -d' ' -f1 "$stamp")" = "$(echo "$want" | cut -d' ' -f1)" ] \
    && [ -x "$VENV/bin/siyu" ]; then
    return 0
  fi
  say "installing siyu and its pinned dependencies into .venv (pip install -e '$spec'; log: .venv/pip.log)"
  local log="$VENV/pip.log"
  if ! (cd "$SIYU_ROOT" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip \
    && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$spec") >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "pip install -e '$spec' failed (the end of .venv/pip.log is above); is PyPI reachable?"
  fi
  echo "$want" >"$stamp"
}
