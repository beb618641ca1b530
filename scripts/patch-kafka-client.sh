#!/usr/bin/env bash
# Applies patches/kafka-javascript-<version>-*.patch to the installed
# @confluentinc/kafka-javascript and rebuilds its binding (only the binding's
# own files compile: seconds, not the minutes of librdkafka).
# Run by npm after every install (package.json "postinstall"); safe to run
# again: a patch already applied is left alone, and so is a binding built
# after its sources last changed.
#
# Without the patches aud works the same, only more slowly (patches/README.md):
# so a binding that cannot be patched here is a warning, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[patch-kafka-client]\033[0m %s\n' "$*" >&2; }

# Where Node finds the client from aud's folder: ./node_modules when aud is
# the project, a parent's node_modules when aud is installed as a dependency
# and npm hoisted the client there (patched there too: the client is then
# shared, and the patches only add calls).
if ! KJS=$(node -p "require('path').dirname(require.resolve('@confluentinc/kafka-javascript/package.json'))" 2>/dev/null); then
  say "error: @confluentinc/kafka-javascript is not installed where Node finds it from $(pwd): run npm install here first"
  exit 1
fi
[ "$KJS" = "$(pwd)/node_modules/@confluentinc/kafka-javascript" ] || say "patching the client found at $KJS (hoisted out of aud's node_modules)"
version=$(node -p "require('$KJS/package.json').version")
BINARY=$KJS/build/Release/confluent-kafka-javascript.node
# Each patch, and a word that only its applied sources contain.
PATCHES=(
  "patches/kafka-javascript-$version-consume-arena.patch src/common.h MessageArena"
  "patches/kafka-javascript-$version-produce-batch.patch src/callbacks.h BatchDelivery"
  "patches/kafka-javascript-$version-consume-packed.patch src/workers.h m_packed"
)

if [ ! -f "${PATCHES[0]%% *}" ]; then
  say "warning: no patches/kafka-javascript-$version-*.patch for @confluentinc/kafka-javascript $version: its binding stays unpatched (correct, but slower). Port the patches of the previous version to it."
  exit 0
fi
if [ ! -f "$KJS/build/Makefile" ]; then
  say "warning: @confluentinc/kafka-javascript came as a prebuilt binary: unpatched (correct, but slower). Install with CKJS_LINKING=dynamic npm ci to build it from source, patched."
  exit 0
fi
for entry in "${PATCHES[@]}"; do
  read -r patch marked marker <<< "$entry"
  if [ ! -f "$patch" ]; then
    say "warning: no $patch for @confluentinc/kafka-javascript $version: that part of the binding stays unpatched (correct, but slower)."
    continue
  fi
  grep -q "$marker" "$KJS/$marked" && continue
  if ! patch -d "$KJS" -p1 --forward --quiet --dry-run < "$patch" >/dev/null; then
    say "error: $patch does not apply to the installed @confluentinc/kafka-javascript $version (its sources differ). Reinstall it (rm -rf $KJS && CKJS_LINKING=dynamic npm ci), or fix the patch."
    exit 1
  fi
  patch -d "$KJS" -p1 --forward --quiet < "$patch"
  say "applied $patch"
done
if [ ! -f "$BINARY" ] || [ -n "$(find "$KJS/src" -newer "$BINARY" -print -quit)" ]; then
  say "rebuilding the binding of @confluentinc/kafka-javascript"
  npm run build --prefix "$KJS" >/dev/null 2>&1 || { say "error: rebuilding the binding failed: cd $KJS && npm run build shows why"; exit 1; }
fi
