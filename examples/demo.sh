#!/usr/bin/env bash
# tlsresume demo: a TLS session saved by one process is resumed by others.
#
# For TLS 1.3 and then TLS 1.2, against a local `openssl s_server -www`
# (127.0.0.1, a port the OS picks, a throwaway RSA-2048 certificate):
#   process 1   tlsr-client save    full handshake, session -> PEM file (0600)
#   process 2   tlsr-client resume  loads the file, resumes
#   then        openssl s_client -sess_in on the same file
#   (and every resumer added in the RESUMERS section below);
#   and back:   openssl s_client -sess_out, resumed by tlsr-client.
# Resumption is checked by the client (SSL_session_reused) and by the
# server's own report (the "Reused, ..." line of its -www page).
# Exits non-zero if any resumer did not resume.  Always stops the server.
#
#   make demo                      # builds, then runs this
#   TLSR_CLIENT=path/to/tlsr-client bash examples/demo.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
CLIENT=${TLSR_CLIENT:-$root/build/examples/tlsr-client}
# The Lua 5.4 build of tlsresume_core (make lua-modules).
LUA_MODULE_DIR=${TLSR_LUA_MODULE_DIR:-$root/build/lua/5.4}
HOST=127.0.0.1
tmp=$(mktemp -d)
chmod 700 "$tmp"
server_pid=""
failures=0
rows=()

cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -x "$CLIENT" ]; then
    echo "demo: $CLIENT not built (run: make demo)" >&2
    exit 1
fi

CAFILE=$tmp/cert.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" \
    -out "$CAFILE" -days 1 -subj "/CN=$HOST" \
    -addext "subjectAltName=IP:$HOST" 2>/dev/null

# Starts s_server for one protocol on a port the OS picks: sets PORT.
start_server() {
    local i
    openssl s_server -accept "$HOST:0" -cert "$CAFILE" -key "$tmp/key.pem" \
        "-$1" -www </dev/null >"$tmp/server.log" 2>&1 &
    server_pid=$!
    for i in $(seq 100); do
        PORT=$(sed -n 's/^ACCEPT .*:\([0-9][0-9]*\)$/\1/p' "$tmp/server.log")
        [ -n "$PORT" ] && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "demo: openssl s_server did not start:" >&2
    cat "$tmp/server.log" >&2
    exit 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

# One table row: label, expected ("New"/"Reused"), then the step's stdout.
# Reads "New"/"Reused" (the first one before any "server="), "server=...",
# "handshake_cpu_us=N" and "load_cpu_us=N" from the output.
record() {
    local label=$1 want=$2 out=$3 rc=$4 client server cpu load status=ok
    client=$(grep -oE '\b(Reused|New)\b' <<<"${out%%server=*}" | head -n1 \
        || true)
    server=$(sed -n 's/.*server=\(Reused\|New\).*/\1/p' <<<"$out" | head -n1)
    cpu=$(sed -n 's/.*handshake_cpu_us=\([0-9]*\).*/\1 us/p' <<<"$out" | head -n1)
    load=$(sed -n 's/.*load_cpu_us=\([0-9]*\).*/\1 us/p' <<<"$out" | head -n1)
    if [ "$rc" != 0 ] || [ "$client" != "$want" ] \
        || { [ -n "$server" ] && [ "$server" != "$want" ]; }; then
        status=FAIL
        failures=$((failures + 1))
    fi
    rows+=("$(printf '%-8s %-38s %-7s %-7s %-10s %-9s %s' "$PROTO" "$label" \
        "${client:--}" "${server:--}" "${cpu:--}" "${load:--}" "$status")")
    printf '  %-38s client=%s server=%s %s\n' "$label" "${client:--}" \
        "${server:--}" "$status"
    if [ "$status" = FAIL ]; then
        echo "  -- output of $label (exit $rc):" >&2
        sed 's/^/     /' <<<"$out" >&2
    fi
}

# Runs one resumer as its own process and records whether it resumed.
resumer() {
    local label=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    record "$label" Reused "$out" "$rc"
}

# From s_client output: "<its verdict> server=<the server's report>".
# Its own summary comes before the page, the server's report is in it.
verdicts() {
    local client server
    client=$(awk '/^HTTP\/1\.0 /{exit} /^(New|Reused),/{print $1; exit}' \
        <<<"$1" | tr -d ,)
    server=$(awk '/^HTTP\/1\.0 /{page=1} page && /^(New|Reused),/{print; exit}' \
        <<<"$1")
    echo "s_client ${client:-none} server=$server"
}

# openssl s_client on the saved file.
s_client_resume() {
    local out
    out=$(printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client \
        -connect "$HOST:$PORT" -sess_in "$SESS" -CAfile "$CAFILE" \
        -verify_ip "$HOST" -verify_return_error -ign_eof 2>&1) || return 1
    verdicts "$out"
}

# openssl s_client saving a session of its own (the other direction).
s_client_save() {
    local out
    out=$(printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client \
        -connect "$HOST:$PORT" -sess_out "$1" -CAfile "$CAFILE" \
        -verify_ip "$HOST" -verify_return_error -ign_eof 2>&1) || return 1
    verdicts "$out"
}

# ==== RESUMERS ===============================================================
# Each resumer is ONE call:  resumer "<label>" <command> [args...]
# It runs after process 1 saved the session, as a separate process, with
#   $HOST $PORT   the server (127.0.0.1, an s_server -www)
#   $SESS         the PEM session file process 1 wrote (mode 0600)
#   $CAFILE       the server's self-signed certificate
#   $PROTO        TLSv1.3 or TLSv1.2
# (also exported).  Its output must contain "Reused" (or "New") as a word;
# if it fetched the page ("GET / HTTP/1.0"), "server=<the page's
# 'Reused, ...' line>" lets the table show the server's own verdict, and
# "handshake_cpu_us=<n>" its handshake CPU time.  Exit status 0 unless the
# connection failed.
run_resumers() {
    resumer "process 2: tlsr-client resume (C)" \
        "$CLIENT" resume "$HOST" "$PORT" "$SESS" "$CAFILE"
    resumer "openssl s_client -sess_in" s_client_resume
    resumer "process 3: python3 + tlsresume" \
        "${PYTHON:-python3}" "$root/examples/resume.py" "$HOST" "$PORT" \
        "$SESS" "$CAFILE"
    resumer "process 4: lua5.4 + LuaSec + tlsresume" \
        env LUA_PATH="$root/lua/?.lua;;" \
        LUA_CPATH="$LUA_MODULE_DIR/?.so;;" \
        lua5.4 "$root/examples/resume.lua" "$HOST" "$PORT" "$SESS" "$CAFILE"
}
# ==== end of RESUMERS ========================================================

for proto in tls1_3 tls1_2; do
    PROTO=TLSv1.${proto#tls1_}
    SESS=$tmp/session-$proto.pem
    start_server "$proto"
    export HOST PORT SESS CAFILE PROTO
    echo "== $PROTO: openssl s_server -www on $HOST:$PORT"

    rc=0
    out=$("$CLIENT" save "$HOST" "$PORT" "$SESS" "$CAFILE" 2>&1) || rc=$?
    record "process 1: tlsr-client save (C)" New "$out" "$rc"
    mode=$(stat -c %a "$SESS" 2>/dev/null || echo none)
    if [ "$mode" != 600 ]; then
        echo "  session file mode is $mode, not 600: FAIL" >&2
        failures=$((failures + 1))
    else
        echo "  $(basename "$SESS"): $(wc -c <"$SESS") bytes, mode 0600," \
            "$(head -n1 "$SESS")"
        run_resumers
    fi
    # Interop the other way: a file openssl wrote, resumed by tlsr-client.
    rc=0
    out=$(s_client_save "$tmp/s_client-$proto.pem") || rc=$?
    record "openssl s_client -sess_out" New "$out" "$rc"
    resumer "tlsr-client resume of that file (C)" \
        "$CLIENT" resume "$HOST" "$PORT" "$tmp/s_client-$proto.pem" "$CAFILE"
    stop_server
done

echo
echo "Summary (client: SSL_session_reused; server: its -www page's report)"
printf '%-8s %-38s %-7s %-7s %-10s %-9s %s\n' proto step client server \
    handshake load result
printf '%s\n' "${rows[@]}"
echo "(handshake/load: client CPU time of the handshake / of reading and"
echo " parsing the session file; first handshake of a fresh process)"
if [ "$failures" -ne 0 ]; then
    echo "demo: $failures step(s) did not go as expected (see above)" >&2
    exit 1
fi
echo "demo: every process resumed the saved session (TLS 1.3 and TLS 1.2)"
