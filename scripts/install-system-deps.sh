#!/usr/bin/env bash
# OS packages the tests use: Chromium (browser tests),
# Node.js + npm (frontend), shellcheck (actionlint uses it on run: scripts), promtool (Debian's prometheus
# package: the alert rules' unit tests).
# Installs what is missing with apt-get when we can; otherwise says what to install.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)  # actionlint checks run: scripts with it
command -v promtool >/dev/null 2>&1 || need+=(prometheus)  # promtool check/test rules (tests/monitoring)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
  echo "install-system-deps: missing packages: ${need[*]} (run: apt-get install ${need[*]} as root)" >&2
  exit 1
fi
echo "install-system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian's prometheus package brings promtool with the server, and on a systemd host starts that server on :9090;
# the tests need promtool only, so a server this script installed is not left running.
if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
