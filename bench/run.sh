#!/usr/bin/env bash
# The whole benchmark in one command: build (tsc; the Kafka Streams peer if its jar is missing),
# then run bench/run.ts with the given options, which writes bench/RESULTS.md.
#   bash bench/run.sh                                                  # quick: 20k customers, 400k events, 3 repeats
#   bash bench/run.sh --customers 1000000 --events 10000000            # the full size
#   bash bench/run.sh --help                                           # every option
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
npx tsc -p tsconfig.json
exec node dist/bench/run.js "$@"
