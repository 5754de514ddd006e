#!/usr/bin/env bash
# Baseline for the binding benches: what OpenSSL's own client gains from
# resumption.  `openssl s_time -new` (full handshakes) against `-reuse`
# (session resumed) on a local `openssl s_server`, TLS 1.2 and TLS 1.3,
# RSA-2048 certificate, loopback only.  Figures, not a test.
#
#   bash bench/s_time.sh            # S_TIME_SECONDS=5 per run by default
#
# "conn/user-sec" is connections per second of client user CPU time (the
# client's cost); "conn/real-sec" is bound by the server, which shares the
# machine.  s_time does not resume TLS 1.3 (its -reuse rate equals -new):
# the 1.3 rows are both full handshakes, shown for completeness.
set -euo pipefail

secs=${S_TIME_SECONDS:-5}
tmp=$(mktemp -d)
server_pid=""

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" \
    -out "$tmp/cert.pem" -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 2>/dev/null

# Starts s_server on a port the OS picks; sets server_pid and port.
start_server() {
    local proto=$1 i
    openssl s_server -accept 127.0.0.1:0 -cert "$tmp/cert.pem" \
        -key "$tmp/key.pem" "-$proto" -www </dev/null \
        >"$tmp/server.log" 2>&1 &
    server_pid=$!
    for i in $(seq 100); do
        port=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$tmp/server.log")
        [ -n "$port" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "s_time.sh: s_server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# One s_time run; prints "conns user_rate real_rate".
s_time() {
    local proto=$1 mode=$2 out
    out=$(openssl s_time -connect "127.0.0.1:$port" "-$proto" "-$mode" \
              -time "$secs" 2>&1) || { echo "$out" >&2; return 1; }
    # "N connections in 1.23s; 456.78 connections/user sec, bytes read 0"
    # "N connections in 5 real seconds, 0 bytes read per connection"
    echo "$out" | awk '
        /connections\/user sec/ { user = $5 + 0 }
        /real seconds/ { conns = $1; real = $1 / $4 }
        END { if (conns == "") exit 1; printf "%d %.0f %.0f\n", conns, user, real }'
}

printf 'openssl s_time, %s, %s s per run, RSA-2048, 127.0.0.1\n' \
    "$(openssl version | cut -d' ' -f1-2)" "$secs"
printf '%-8s %-7s %8s %15s %15s\n' proto mode conns conn/user-sec conn/real-sec
for proto in tls1_2 tls1_3; do
    start_server "$proto"
    declare -A user=()
    for mode in new reuse; do
        read -r conns u r < <(s_time "$proto" "$mode")
        user[$mode]=$u
        printf '%-8s %-7s %8s %15s %15s\n' "$proto" "$mode" "$conns" "$u" "$r"
    done
    awk -v n="${user[new]}" -v r="${user[reuse]}" -v p="$proto" 'BEGIN {
        if (n > 0) printf "%-8s reuse/new client CPU speedup: %.1fx\n", p, r / n }'
    stop_server
done
