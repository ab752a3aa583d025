#!/usr/bin/env bash
# Installs the Debian packages that browser and spreadsheet tests drive, when missing.
set -euo pipefail
wanted=()
command -v chromium >/dev/null 2>&1 || wanted+=(chromium chromium-driver)
command -v soffice >/dev/null 2>&1 || wanted+=(libreoffice-calc-nogui)
[ ${#wanted[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: cannot install ${wanted[*]} (need root and apt-get); the suites that need them will say so" >&2
  exit 0
fi
echo "system-deps: installing ${wanted[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
