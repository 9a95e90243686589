#!/bin/bash
# Events over MQTT against a real broker: Debian's mosquitto on 127.0.0.1 (a free port), events
# read back with mosquitto_sub (a persistent session, QoS 1, so that the broker keeps what arrives
# while the subscriber reconnects). `panoptes track --synth` is paced (--rate) so that the broker
# can be stopped and started while it runs.
#   1. the broker is stopped and started again mid-run: every event of the events file arrives
#   2. the broker is not there at start: reported with its URL, retried, every event arrives
#   3. the broker dies for good mid-run with a small queue: the run ends on time (exit 0), and
#      delivered + dropped + undelivered adds up to every event (nothing lost uncounted)
# KEEP=1 keeps the folder (broker log, each run's stderr, what the subscriber got).
set -u
CLI=${PANOPTES_CLI:-}
if [ -z "$CLI" ] || [ ! -x "$CLI" ]; then echo "skipped: no panoptes CLI (PANOPTES_CLI)"; exit 77; fi
BROKER_BIN=$(command -v mosquitto || echo /usr/sbin/mosquitto)
if [ ! -x "$BROKER_BIN" ] || ! command -v mosquitto_sub >/dev/null; then
    echo "skipped: mosquitto and mosquitto_sub not installed (scripts/setup.sh installs them)"; exit 77
fi
T=$(mktemp -d)
BROKER= SUB=
cleanup() {
    [ -n "$SUB" ] && kill "$SUB" 2>/dev/null
    [ -n "$BROKER" ] && kill -9 "$BROKER" 2>/dev/null
    wait 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
pass=0 fail=0
check() { if eval "$2"; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi; }

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="mqtt://127.0.0.1:$PORT/panoptes-test"
mkdir -p "$T/db"
cat >"$T/broker.conf" <<EOF
listener $PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $T/db/
user $(id -un)
EOF

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
start_broker() {
    "$BROKER_BIN" -c "$T/broker.conf" >>"$T/broker.log" 2>&1 &
    BROKER=$!
    for _ in $(seq 100); do port_open && return 0; sleep 0.05; done
    echo "broker did not start:"; cat "$T/broker.log"; exit 1
}
# SIGTERM: the broker saves the subscriber's session (and what it holds for it) before it exits.
stop_broker() { kill -TERM "$BROKER"; wait "$BROKER" 2>/dev/null; BROKER=; }
start_sub() { # $1: output file; a persistent session (-c) with a fixed id keeps messages while it is away
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -t 'panoptes-test/#' -q 1 -c -i "panoptes-test-sub" -v >>"$1" 2>>"$T/sub.err" &
    SUB=$!
    for _ in $(seq 100); do grep -q "panoptes-test-sub" "$T/broker.log" && return 0; sleep 0.05; done
}
# waits until every line of events file $1 was received in $2 (at most 15 s); prints how many are missing
missing() {
    local n=0
    for _ in $(seq 150); do
        sed 's/^[^ ]* //' "$2" | sort -u >"$T/got.sorted"
        sort -u "$1" >"$T/want.sorted"
        n=$(comm -23 "$T/want.sorted" "$T/got.sorted" | wc -l)
        [ "$n" = 0 ] && break
        sleep 0.1
    done
    echo "$n"
}

# --- 1. broker stopped and started mid-run
start_broker
start_sub "$T/got1.txt"
"$CLI" track --synth 1 --out "$T/tracks.txt" --events "$T/ev1.jsonl" --mqtt "$URL" --rate 200 2>"$T/err1" &
RUN=$!
sleep 1.2
stop_broker
sleep 1.0
start_broker
wait $RUN; rc=$?
m=$(missing "$T/ev1.jsonl" "$T/got1.txt")
check "broker restarted mid-run: run ends well" '[ $rc -eq 0 ]'
check "broker restarted mid-run: events were written ($(wc -l <"$T/ev1.jsonl"))" '[ $(wc -l <"$T/ev1.jsonl") -gt 30 ]'
check "broker restarted mid-run: every event arrives (missing: $m)" '[ "$m" = 0 ]'
check "broker restarted mid-run: the client saw the loss, kept events, reconnected" \
    'grep -q "connection lost" "$T/err1" && grep -Eq "connected again; sending the [1-9][0-9]* events that waited" "$T/err1" &&
     grep -Eq "[0-9]+ delivered, 0 dropped, 0 undelivered" "$T/err1"'
check "topics are <prefix>/<camera>/events" '! grep -v "^panoptes-test/0/events {" "$T/got1.txt" | grep -q .'
kill "$SUB" 2>/dev/null; wait "$SUB" 2>/dev/null; SUB=

# --- 2. unreachable at start, then there
start_sub "$T/got2.txt"
stop_broker
"$CLI" track --synth 2 --out "$T/tracks.txt" --events "$T/ev2.jsonl" --mqtt "$URL" --rate 300 2>"$T/err2" &
RUN=$!
sleep 1.0
start_broker
wait $RUN; rc=$?
m=$(missing "$T/ev2.jsonl" "$T/got2.txt")
check "unreachable at start: reported with its URL" 'grep -q "$URL: cannot reach the broker" "$T/err2"'
check "unreachable at start: retried, every event arrives (missing: $m)" '[ $rc -eq 0 ] && [ "$m" = 0 ]'
kill "$SUB" 2>/dev/null; wait "$SUB" 2>/dev/null; SUB=

# --- 3. the broker dies for good; a queue of 10 events
# (timeout only guards against a hang: without a broker the run must still end by itself)
timeout 300 "$CLI" track --synth 3 --out "$T/tracks.txt" --events "$T/ev3.jsonl" --mqtt "$URL" --mqtt-queue 10 \
    --rate 300 2>"$T/err3" &
RUN=$!
sleep 0.7
kill -9 "$BROKER"; wait "$BROKER" 2>/dev/null; BROKER=
wait $RUN; rc=$?
stats=$(grep -o "mqtt $URL: .*" "$T/err3")
read -r q d dr u <<<"$(echo "$stats" | sed -E 's/.*: ([0-9]+) events, ([0-9]+) delivered, ([0-9]+) dropped, ([0-9]+) undelivered.*/\1 \2 \3 \4/')"
check "broker gone for good: the run ends by itself (exit $rc)" '[ $rc -eq 0 ]'
check "broker gone for good: $q events = $d delivered + $dr dropped + $u undelivered, all counted" \
    '[ "$q" = "$(wc -l <"$T/ev3.jsonl")" ] && [ $((d + dr + u)) -eq "$q" ] && [ "$dr" -gt 0 ]'
check "broker gone for good: drops reported" 'grep -q "dropped (the queue of 10 was full" "$T/err3"'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
