#!/usr/bin/env bash
# The store's cross-process suite: concurrency, kill -9 torture, and
# `openssl s_client -sess_in` resuming from an entry the store wrote, against
# a real `openssl s_server` on 127.0.0.1 (free port, killed at the end).
# Usage: tests/store/run.sh BUILD_DIR   (holds store_torture and store_tool)
set -euo pipefail
bin=$1
work=$(mktemp -d /tmp/tlsr-store-suite-XXXXXX)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail=0

echo "== store: concurrency (real processes on one store)"
"$bin/store_torture" concurrency "$work/conc" || fail=1

echo "== store: kill -9 torture"
"$bin/store_torture" kill9 "$work/kill" || fail=1

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=localhost -days 2 -keyout "$work/key.pem" -out "$work/cert.pem" \
    2>/dev/null

for v in 12 13; do
    echo "== store: openssl s_client -sess_in <store entry>, TLS 1.${v#1}"
    store="$work/sclient$v"
    server_pid=
    for attempt in 1 2 3; do
        port=$(free_port)
        openssl s_server -accept "127.0.0.1:$port" -cert "$work/cert.pem" \
            -key "$work/key.pem" -www -tls1_${v#1} -quiet \
            >"$work/server$v.log" 2>&1 &
        server_pid=$!
        for _ in $(seq 50); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
            sleep 0.1
        done
        if kill -0 "$server_pid" 2>/dev/null; then break; fi
        server_pid=
    done
    if [ -z "$server_pid" ]; then echo "FAIL: s_server did not start"; fail=1; continue; fi
    "$bin/store_tool" put "$store" "$port" "$v" || fail=1
    entry=$(find "$store" -type f -name '*.pem' | head -n1)
    perms=$(stat -c %a "$entry")
    if openssl sess_id -in "$entry" -noout; then
        echo "ok   openssl sess_id reads the entry ($perms)"
    else
        echo "FAIL openssl sess_id -in $entry"; fail=1
    fi
    out=$(openssl s_client -connect "127.0.0.1:$port" -servername localhost \
              -tls1_${v#1} -sess_in "$entry" </dev/null 2>&1 || true)
    if grep -q "^Reused" <<<"$out"; then
        echo "ok   s_client: $(grep -m1 '^Reused' <<<"$out")"
    else
        echo "FAIL s_client did not resume:"; grep -m1 -E '^(New|Reused)' <<<"$out" || true
        fail=1
    fi
    # The library itself: take from the store, resume against the server.
    res=$("$bin/store_tool" resume "$store" "$port" "$v" || true)
    if [ "$res" = "reused 1" ]; then
        echo "ok   store_tool take + resume: $res"
    else
        echo "FAIL store_tool take + resume: $res"; fail=1
    fi
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
done

if [ "$fail" = 0 ]; then echo "test-store: all passed"; else echo "test-store: FAILED"; fi
exit "$fail"
