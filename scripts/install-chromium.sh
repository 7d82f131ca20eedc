#!/usr/bin/env bash
# Debian's chromium, for the test that opens the HTML report in a headless browser (it is skipped,
# with a message, where no Chromium is found). Does nothing when it is already installed.
set -euo pipefail
if [ -x /usr/lib/chromium/chromium ] || [ -n "${CPC_LAB_CHROMIUM:-}" ]; then
  echo "chromium: present"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -qq chromium || { $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium; }
/usr/lib/chromium/chromium --version
