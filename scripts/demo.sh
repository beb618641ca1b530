#!/usr/bin/env bash
# npm run demo: install what is missing, start a local Kafka broker, and run the
# retail example live (examples/retail/demo.ts) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/kafka.sh start
exec node dist/examples/retail/demo.js "$@"
