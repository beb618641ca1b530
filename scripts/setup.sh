#!/usr/bin/env bash
# Installs what aud needs on a fresh Debian machine, and nothing twice:
#  - the C libraries that @confluentinc/kafka-javascript builds librdkafka against,
#    and Debian's chromium, which the dashboard's browser tests drive (playwright-core
#    cannot download its own browser here);
#  - node_modules (npm ci, librdkafka built from source: CKJS_LINKING=dynamic,
#    then the client's consume patch: scripts/patch-kafka-client.sh);
#  - the TypeScript build in dist/.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

APT_PACKAGES=(zlib1g-dev libssl-dev libzstd-dev liblz4-dev libsasl2-dev libcurl4-openssl-dev chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# node_modules is current when it was installed after the last change to the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || ! node -e "require('@confluentinc/kafka-javascript')" 2>/dev/null; then
  step "installing npm packages (builds librdkafka from source: about two minutes)"
  CKJS_LINKING=dynamic npm ci --no-audit --no-fund
else
  # An install made before the client patch (package.json "postinstall") gets it now.
  bash scripts/patch-kafka-client.sh
  step "building TypeScript"
  npx tsc -p tsconfig.json
fi
