#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft) on 127.0.0.1 for development, the demo and tests.
#
#   scripts/kafka.sh start    resolve Kafka from Maven Central (first time only), format, start, wait until ready
#   scripts/kafka.sh stop     SIGTERM, then SIGKILL after 30 s
#   scripts/kafka.sh status   running or not
#   scripts/kafka.sh logs     the broker's log
#
# Everything lives in .kafka/ (git-ignored): lib/ (the classpath), data/, broker.log, broker.pid.
# AUD_KAFKA_PORT (default 9092) and AUD_KAFKA_DIR (default <repo>/.kafka) override the defaults.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
KAFKA_DIR="${AUD_KAFKA_DIR:-$repo/.kafka}"
PORT="${AUD_KAFKA_PORT:-9092}"
CONTROLLER_PORT="$((PORT + 1))"
LIB="$KAFKA_DIR/lib"
DATA="$KAFKA_DIR/data-$PORT"
LOG="$KAFKA_DIR/broker-$PORT.log"
PIDFILE="$KAFKA_DIR/broker-$PORT.pid"
CONFIG="$KAFKA_DIR/server-$PORT.properties"

say() { printf '\033[1m[kafka]\033[0m %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid; pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

resolve() {
  if [ -f "$LIB/.complete" ]; then return; fi
  say "resolving Apache Kafka from Maven Central into $LIB (first run only; about a minute)"
  command -v mvn >/dev/null || { say "Maven (mvn) is needed to fetch Kafka: apt-get install maven"; exit 1; }
  command -v java >/dev/null || { say "Java 17+ is needed to run Kafka: apt-get install openjdk-17-jre-headless"; exit 1; }
  rm -rf "$LIB"
  mkdir -p "$LIB"
  (cd "$repo/scripts/kafka" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIB")
  touch "$LIB/.complete"
}

configure() {
  mkdir -p "$DATA"
  sed -e "s#@DATA@#$DATA#g" -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
    "$repo/scripts/kafka/server.properties" > "$CONFIG"
  cat > "$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
logger.controller.name = org.apache.kafka.controller
logger.controller.level = warn
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = warn
EOF
  if [ ! -f "$DATA/meta.properties" ]; then
    local id
    id="$(java -cp "$LIB/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    say "formatting storage (cluster id $id)"
    java -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" -cp "$LIB/*" kafka.tools.StorageTool format --standalone -t "$id" -c "$CONFIG" >>"$LOG" 2>&1 \
      || { say "formatting failed; the end of $LOG:"; tail -n 30 "$LOG" >&2; exit 1; }
  fi
}

start() {
  if pid="$(running_pid)"; then say "already running (pid $pid) on 127.0.0.1:$PORT"; return 0; fi
  if port_open "$PORT"; then say "a broker already answers on 127.0.0.1:$PORT; using it"; return 0; fi
  mkdir -p "$KAFKA_DIR"
  resolve
  configure
  say "starting the broker on 127.0.0.1:$PORT (log: $LOG)"
  # Kafka's own G1 settings (kafka-run-class.sh) with a heap sized for a small machine.
  nohup java -Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$LIB/*" kafka.Kafka "$CONFIG" >>"$LOG" 2>&1 &
  echo $! > "$PIDFILE"
  local waited=0
  until grep -q "Kafka Server started" "$LOG" 2>/dev/null && port_open "$PORT"; do
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      say "the broker exited during start-up; the end of $LOG:"; tail -n 40 "$LOG" >&2; exit 1
    fi
    if [ "$waited" -ge 120 ]; then
      say "not ready after 120 s; the end of $LOG:"; tail -n 40 "$LOG" >&2; exit 1
    fi
    sleep 1; waited=$((waited + 1))
    [ $((waited % 10)) -eq 0 ] && say "waiting for the broker ($waited s)"
  done
  say "ready on 127.0.0.1:$PORT after ${waited} s"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then say "not running"; rm -f "$PIDFILE"; return 0; fi
  say "stopping (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; say "stopped"; return 0; }; sleep 1; done
  say "still running after 30 s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if pid="$(running_pid)"; then echo "running (pid $pid) on 127.0.0.1:$PORT"; elif port_open "$PORT"; then echo "a broker not started by this script answers on 127.0.0.1:$PORT"; else echo "not running"; exit 1; fi ;;
  logs) cat "$LOG" ;;
  *) echo "usage: $0 start|stop|status|logs" >&2; exit 2 ;;
esac
