#!/usr/bin/env bash
# Build the VS Code extension and package it as aud-language-VERSION.vsix in
# this folder (install it with: code --install-extension aud-language-*.vsix).
set -euo pipefail
cd "$(dirname "$0")"
npm install --no-audit --no-fund
npx tsc -p .
# No repository field and no LICENSE file of its own: the extension ships inside aud's repository.
npx vsce package --allow-missing-repository --skip-license
