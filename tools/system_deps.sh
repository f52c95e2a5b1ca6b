#!/usr/bin/env bash
# Install the real components that the test suite starts itself:
#   chromium    browser tests (driven by Python playwright, no browser download)
#   postgresql  the gradebook test on a real database server
# Installs from Debian's packages when missing and when we are root (CI) or
# have passwordless sudo; otherwise says what to install and carries on (the
# tests that need them then fail with that same instruction).
set -u
need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "note: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
  exit 0
fi
echo "installing ${need[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
