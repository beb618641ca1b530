#!/usr/bin/env bash
# npm test: build, make sure a broker is up (start one if not, and stop it
# afterwards), then run the whole suite with Node's test runner.
# Extra arguments go to node --test (for example: npm test -- --test-name-pattern=replay).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

# Test-only: Prometheus's own text-format parser (Python) checks what /metrics serves.
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  printf '\033[1m[test]\033[0m %s\n' "installing prometheus-client (PyPI) to parse /metrics in tests" >&2
  python3 -m pip install -q --disable-pip-version-check prometheus-client==0.26.0 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --break-system-packages prometheus-client==0.26.0
fi

export AUD_TEST_BROKERS="${AUD_TEST_BROKERS:-127.0.0.1:${AUD_KAFKA_PORT:-9092}}"
started_broker=0
if ! bash scripts/kafka.sh status >/dev/null 2>&1; then
  bash scripts/kafka.sh start
  started_broker=1
fi
cleanup() { if [ "$started_broker" = 1 ]; then bash scripts/kafka.sh stop; fi; }
trap cleanup EXIT

# A test that hangs (an engine redelivering a failing batch for ever, say) fails
# after 5 minutes instead of holding CI to its limit; the slowest test takes
# about 35 s.
status=0
node --test --test-concurrency=1 --test-timeout=300000 "$@" dist/test/ || status=$?
exit "$status"
