#!/usr/bin/env bash
# Check that the Kafka Streams peer computes what aud computes for bench/rules/bench.aud:
# generate retail events, run `aud replay` (the reference), run the peer on a fresh
# 1-partition topic until its output stops growing, compare (ignoring "cause").
# Prints "equal: N events" or the first differences; exit 0 only when equal.
#
#   bash bench/peers/kafka-streams/check.sh [--customers 300] [--days 60] [--seed 7] [--exactly-once] [--threads N]
#                                           [--events FILE.jsonl]   (use these events instead of generating)
#                                           [--build]               (first npx tsc -p . and mvn package)
#                                           [--keep]                (keep the topics and the work directory;
#                                                                    the work directory is kept anyway when not equal)
#
# Needs: the project built (npx tsc -p .), the peer built (mvn -q -DskipTests package in this
# folder; done here if the jar is missing), a broker at $BROKERS (default 127.0.0.1:9092;
# bash scripts/kafka.sh start).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
BROKERS="${BROKERS:-127.0.0.1:9092}"
customers=300 days=60 seed=7 events="" build=0 keep=0 peer_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --customers) customers="$2"; shift 2 ;;
    --days) days="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --events) events="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --build) build=1; shift ;;
    --keep) keep=1; shift ;;
    --exactly-once) peer_flags+=(--exactly-once); shift ;;
    --threads) peer_flags+=(--threads "$2"); shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
say() { printf '[check] %s\n' "$*" >&2; }

jar="$here/target/aud-streams-peer.jar"
if [ "$build" = 1 ]; then
  say "building the project (npx tsc -p .) and the peer"
  (cd "$repo" && npx tsc -p .)
  (cd "$here" && mvn -q -B -DskipTests package)
fi
if [ ! -f "$jar" ]; then say "building the peer"; (cd "$here" && mvn -q -B -DskipTests package); fi
[ -f "$repo/dist/cli/aud.js" ] && [ -f "$repo/dist/examples/retail/generate.js" ] \
  || { say "the project is not built: run npx tsc -p . in $repo"; exit 1; }
tools() { java -cp "$jar" dev.aud.peer.Tools "$@"; }

work="$(mktemp -d /tmp/aud-peer-check.XXXXXX)"
run_id="$(date +%s)-$$"
input="aud-peer-check-in-$run_id"
output="aud-peer-check-out-$run_id"
app_id="aud-peer-check-$run_id"
peer_pid=""
ok=0
cleanup() {
  if [ -n "$peer_pid" ] && kill -0 "$peer_pid" 2>/dev/null; then kill -TERM "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  if [ "$keep" = 1 ]; then say "kept $work and the topics $input, $output, $app_id-*"; return; fi
  tools delete-topics "$BROKERS" "$input" "$output" "$app_id-*" 2>/dev/null || true
  if [ "$ok" = 1 ]; then rm -rf "$work"; else rm -rf "$work/state"; say "kept $work (events, ours.jsonl, theirs.jsonl, peer.log)"; fi
}
trap cleanup EXIT

cd "$repo"
if [ -n "$events" ]; then
  cp "$events" "$work/events.jsonl"
else
  say "generating events (--customers $customers --days $days --seed $seed) into $work/events.jsonl"
  node dist/examples/retail/generate.js --customers "$customers" --days "$days" --seed "$seed" > "$work/events.jsonl"
fi
say "$(wc -l < "$work/events.jsonl") events; reference: aud replay"
node dist/cli/aud.js replay bench/rules/bench.aud --input "$work/events.jsonl" > "$work/ours.jsonl"
say "$(wc -l < "$work/ours.jsonl") reference events"

tools create-topic "$BROKERS" "$input" 1
tools create-topic "$BROKERS" "$output" 1
tools produce "$BROKERS" "$input" "$work/events.jsonl"

say "starting the peer (log: $work/peer.log)"
java -jar "$jar" --brokers "$BROKERS" --input "$input" --output "$output" \
  --app-id "$app_id" --state-dir "$work/state" ${peer_flags[@]+"${peer_flags[@]}"} 2> "$work/peer.log" &
peer_pid=$!

# Until the output stops growing: the peer has committed the whole input (Kafka Streams
# flushes its output before it commits input offsets), and the output count holds for 3 s.
last=-1 stable=0 waited=0
while :; do
  sleep 1; waited=$((waited + 1))
  kill -0 "$peer_pid" 2>/dev/null || { say "the peer exited early; its log:"; tail -n 40 "$work/peer.log" >&2; exit 1; }
  lag="$(tools lag "$BROKERS" "$input" "$app_id" 2>/dev/null || echo -1)"
  n="$(tools end-offsets "$BROKERS" "$output")"
  if [ "$lag" = 0 ] && [ "$n" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
  last="$n"
  [ "$stable" -ge 3 ] && break
  [ "$waited" -ge 900 ] && { say "the peer has not caught up after 900 s (lag $lag)"; exit 1; }
done
say "output stable at $last records after ${waited}s; stopping the peer (SIGTERM)"
kill -TERM "$peer_pid"
set +e; wait "$peer_pid"; code=$?; set -e
peer_pid=""
[ "$code" -eq 0 ] || { say "the peer exited with $code; its log:"; tail -n 40 "$work/peer.log" >&2; exit 1; }

tools consume "$BROKERS" "$output" "$work/theirs.jsonl"
node "$here/compare.mjs" "$work/ours.jsonl" "$work/theirs.jsonl"
ok=1
