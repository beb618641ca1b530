#!/usr/bin/env bash
# Applies patches/kafka-javascript-<version>-consume-arena.patch to the
# installed @confluentinc/kafka-javascript and rebuilds its binding (only the
# binding's own files compile: seconds, not the minutes of librdkafka).
# Run by npm after every install (package.json "postinstall"); safe to run
# again: a patched, built binding is left alone.
#
# Without the patch aud works the same, only more slowly (patches/README.md):
# so a binding that cannot be patched here is a warning, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[patch-kafka-client]\033[0m %s\n' "$*" >&2; }

KJS=node_modules/@confluentinc/kafka-javascript
[ -f "$KJS/package.json" ] || exit 0
version=$(node -p "require('./$KJS/package.json').version")
PATCH=patches/kafka-javascript-$version-consume-arena.patch
BINARY=$KJS/build/Release/confluent-kafka-javascript.node

if [ ! -f "$PATCH" ]; then
  say "warning: no $PATCH for @confluentinc/kafka-javascript $version: its consumer stays unpatched (correct, but slower). Port the patch of the previous version to it."
  exit 0
fi
if [ ! -f "$KJS/build/Makefile" ]; then
  say "warning: @confluentinc/kafka-javascript came as a prebuilt binary: unpatched (correct, but slower). Install with CKJS_LINKING=dynamic npm ci to build it from source, patched."
  exit 0
fi
if ! grep -q 'MessageArena' "$KJS/src/common.h"; then
  if ! patch -d "$KJS" -p1 --forward --quiet --dry-run < "$PATCH" >/dev/null; then
    say "error: $PATCH does not apply to the installed @confluentinc/kafka-javascript $version (its sources differ). Reinstall it (rm -rf $KJS && CKJS_LINKING=dynamic npm ci), or fix the patch."
    exit 1
  fi
  patch -d "$KJS" -p1 --forward --quiet < "$PATCH"
  say "applied $PATCH"
fi
if [ ! -f "$BINARY" ] || [ "$KJS/src/common.cc" -nt "$BINARY" ] || [ "$KJS/src/workers.cc" -nt "$BINARY" ]; then
  say "rebuilding the binding of @confluentinc/kafka-javascript"
  npm run build --prefix "$KJS" >/dev/null 2>&1 || { say "error: rebuilding the binding failed: cd $KJS && npm run build shows why"; exit 1; }
fi
