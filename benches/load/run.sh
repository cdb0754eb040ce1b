#!/usr/bin/env bash
# Warden load benchmark: one command, one Markdown table.
#
#   benches/load/run.sh                      # SQLite only
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres benches/load/run.sh
#
# Env knobs:
#   DURATION          wrk duration per measurement (default 10s; wrk syntax: 3s, 1m)
#   CONNECTIONS       wrk connections for the ordinary rows (default 32)
#   WARMUP            wrk warm-up before each measurement (default 2s)
#   REVOCATION_SAMPLES  samples for the cross-instance revocation probe (default 50)
#   TEST_DATABASE_URL postgres://user@host:port/db: also run Warden on PostgreSQL (a fresh
#                     database is created and dropped) and measure cross-instance revocation
#   WARDEN_BIN        use this Warden binary instead of building target/release/warden
#   BASE_PORT         first port tried for the servers (default 18700)
#
# Servers run pinned to CPU 0 (`taskset -c 0`), wrk to CPU 1. Only 127.0.0.1 is targeted.
# Results: stdout and target/load/results.md (under the repository root).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
LOAD_TARGET="$ROOT/target/load"

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
WARMUP="${WARMUP:-2s}"
REVOCATION_SAMPLES="${REVOCATION_SAMPLES:-50}"
BASE_PORT="${BASE_PORT:-18700}"
TEST_DATABASE_URL="${TEST_DATABASE_URL:-}"

# The same HS256 key for Warden and the references (48 bytes; a benchmark-only value).
export JWT_SECRET_KEY="warden-load-bench-hs256-key-0123456789abcdefghij"
ADMIN_EMAIL="bench@example.com"
ADMIN_PASSWORD="load-bench-Password-2026!"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# --- wrk (and curl) from Debian ------------------------------------------------------------
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
need_pkgs=()
command -v wrk >/dev/null 2>&1 || need_pkgs+=(wrk)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
command -v taskset >/dev/null 2>&1 || need_pkgs+=(util-linux)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    log "installing ${need_pkgs[*]} from Debian"
    if ! as_root apt-get install -y "${need_pkgs[@]}" >/dev/null 2>&1; then
        as_root apt-get update >/dev/null
        as_root apt-get install -y "${need_pkgs[@]}" >/dev/null
    fi
fi
if [ -n "$TEST_DATABASE_URL" ] && ! command -v psql >/dev/null 2>&1; then
    log "installing postgresql-client from Debian"
    as_root apt-get update >/dev/null
    as_root apt-get install -y postgresql-client >/dev/null
fi
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; server and wrk will share a core"

# --- builds ----------------------------------------------------------------------------------
if [ -n "${WARDEN_BIN:-}" ]; then
    [ -x "$WARDEN_BIN" ] || die "WARDEN_BIN=$WARDEN_BIN is not an executable"
    WARDEN_LABEL="WARDEN_BIN=$WARDEN_BIN"
else
    WARDEN_LABEL="Warden $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src entity migration Cargo.toml Cargo.lock 2>/dev/null || echo ' + local changes')"
    log "building Warden (release)"
    (cd "$ROOT" && cargo build --release --bin warden)
    WARDEN_BIN="$ROOT/target/release/warden"
fi
log "building the load workspace (release, target/load)"
(cd "$ROOT" && CARGO_TARGET_DIR="$LOAD_TARGET" cargo build --release --manifest-path benches/load/Cargo.toml)
BIN="$LOAD_TARGET/release"

# --- processes and clean-up ------------------------------------------------------------------
TMP="$(mktemp -d -t warden-load.XXXXXX)"
PIDS=()
DATABASES=()

stop_pid() {
    local pid="$1" _
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local status=$? pid db
    set +e
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    for db in "${DATABASES[@]}"; do
        timeout 30 psql "$TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 \
            -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
            echo "run.sh: could not drop database $db" >&2
    done
    rm -rf "$TMP"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NEXT_PORT="$BASE_PORT"
# Prints the next port on 127.0.0.1 that nothing listens on.
free_port() {
    local port="$NEXT_PORT" tries=0
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        port=$((port + 1))
        tries=$((tries + 1))
        [ "$tries" -lt 200 ] || die "no free port from $BASE_PORT"
    done
    NEXT_PORT=$((port + 1))
    echo "$port"
}

# wait_healthy PID PORT LOGFILE: GET /healthz answers 200 within 60 s.
wait_healthy() {
    local pid="$1" port="$2" logfile="$3" _
    for _ in $(seq 600); do
        if ! kill -0 "$pid" 2>/dev/null; then
            cat "$logfile" >&2
            die "server on port $port exited during start-up"
        fi
        if curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz"; then
            return 0
        fi
        sleep 0.1
    done
    cat "$logfile" >&2
    die "server on port $port not healthy after 60 s"
}

# start_server NAME PORT CMD...: runs CMD pinned to CPU 0 and sets SERVER_PID.
start_server() {
    local name="$1" port="$2"
    shift 2
    local logfile="$TMP/$name.log"
    taskset -c 0 "$@" >"$logfile" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_healthy "$SERVER_PID" "$port" "$logfile"
}

# start_warden NAME PORT DATABASE_URL: sets SERVER_PID.
start_warden() {
    local name="$1" port="$2" url="$3"
    start_server "$name" "$port" env \
        DATABASE_URL="$url" \
        WARDEN_ADDR="127.0.0.1:$port" \
        JWT_SECRET_KEY="$JWT_SECRET_KEY" \
        WARDEN_ADMIN_EMAIL="$ADMIN_EMAIL" \
        WARDEN_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
        RUST_LOG=warn \
        "$WARDEN_BIN" serve
}

# --- GraphQL helpers -------------------------------------------------------------------------
# body QUERY: the JSON request body for a GraphQL document.
body() {
    local q="$1"
    q="${q//\\/\\\\}"
    q="${q//\"/\\\"}"
    printf '{"query":"%s"}' "$q"
}

# gql URL QUERY [TOKEN]: POSTs a query with curl, prints the response body.
gql() {
    local url="$1" query="$2" token="${3:-}"
    local args=(-s --max-time 10 -H 'Content-Type: application/json' --data "$(body "$query")")
    [ -z "$token" ] || args+=(-H "Authorization: Bearer $token")
    curl "${args[@]}" "$url"
}

LOGIN_QUERY="mutation { login(email: \"$ADMIN_EMAIL\", password: \"$ADMIN_PASSWORD\") { accessToken } }"
ME_QUERY='{ me { id email roles } }'

token_for() { "$BIN/probe" token --url "$1" --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD"; }

# expect URL QUERY TOKEN NEEDLE: one request answers with NEEDLE in its body.
expect() {
    local answer
    answer="$(gql "$1" "$2" "$3")" || die "request to $1 failed"
    [[ "$answer" == *"$4"* ]] || die "$1 answered $answer to $2 (expected $4)"
}

# --- wrk -------------------------------------------------------------------------------------
seconds_of() {
    local d="$1"
    case "$d" in
    *ms) echo 1 ;;
    *s) echo "${d%s}" ;;
    *m) echo $((${d%m} * 60)) ;;
    *h) echo $((${d%h} * 3600)) ;;
    *) echo "$d" ;;
    esac
}
DURATION_S="$(seconds_of "$DURATION")"
WARMUP_S="$(seconds_of "$WARMUP")"

# wrk_raw OUTFILE CONNECTIONS DURATION URL BODY TOKEN: one wrk run pinned to CPU 1.
wrk_raw() {
    local out="$1" conns="$2" dur="$3" url="$4" req_body="$5" token="$6"
    local secs
    secs="$(seconds_of "$dur")"
    BODY="$req_body" TOKEN="$token" timeout $((secs + 60)) \
        taskset -c 1 wrk -t1 -c"$conns" -d"$dur" --latency -s "$HERE/post.lua" "$url" >"$out" 2>&1 ||
        {
            cat "$out" >&2
            die "wrk failed against $url"
        }
}

ROWS=()
declare -A RPS P50 P99
REF_KEY="ref-graphql-me"

# field FILE NAME: a value from wrk's RESULT line.
field() { sed -n "s/^RESULT .*\b$2=\([0-9.]*\).*/\1/p" "$1" | tail -n1; }

# record KEY LABEL FILE: keeps a measurement for the table.
record() {
    local key="$1" label="$2" file="$3" errors non2xx
    RPS[$key]="$(field "$file" rps)"
    P50[$key]="$(field "$file" p50_us)"
    P99[$key]="$(field "$file" p99_us)"
    [ -n "${RPS[$key]}" ] || {
        cat "$file" >&2
        die "no RESULT line for $label"
    }
    errors="$(field "$file" errors)"
    non2xx="$(field "$file" non2xx)"
    if [ "${errors:-0}" != 0 ] || [ "${non2xx:-0}" != 0 ]; then
        log "note: $label had $errors socket errors and $non2xx non-2xx answers"
    fi
    ROWS+=("$key|$label")
    printf '    %-60s %10.0f req/s  p50 %7.2f ms  p99 %7.2f ms\n' "$label" "${RPS[$key]}" \
        "$(ms "${P50[$key]}")" "$(ms "${P99[$key]}")" >&2
}

# mib FIELD PID: a /proc/PID/status memory field (VmRSS, VmHWM) in MiB.
mib() { awk -v f="$1:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$2/status"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# bench KEY LABEL URL QUERY TOKEN [CONNECTIONS]: warm-up, then the measured run.
bench() {
    local key="$1" label="$2" url="$3" query="$4" token="$5" conns="${6:-$CONNECTIONS}"
    local req_body
    req_body="$(body "$query")"
    wrk_raw "$TMP/warmup.txt" "$conns" "$WARMUP" "$url" "$req_body" "$token"
    wrk_raw "$TMP/$key.txt" "$conns" "$DURATION" "$url" "$req_body" "$token"
    record "$key" "$label" "$TMP/$key.txt"
}

# --- the reference servers -------------------------------------------------------------------
EXTRA=()

run_references() {
    local token="$1" port url
    port="$(free_port)"
    url="http://127.0.0.1:$port/graphql"
    log "ref-axum on :$port"
    start_server ref-axum "$port" env LISTEN_ADDR="127.0.0.1:$port" "$BIN/ref-axum"
    expect "$url" '{ me { id } }' "$token" '"id":"1"'
    bench ref-axum "ref-axum: bare axum + JWT check (token)" "$url" '{ me { id } }' "$token"
    stop_pid "$SERVER_PID"

    port="$(free_port)"
    url="http://127.0.0.1:$port/graphql"
    log "ref-graphql on :$port"
    start_server ref-graphql "$port" env LISTEN_ADDR="127.0.0.1:$port" "$BIN/ref-graphql"
    expect "$url" '{ me { id } }' "$token" '"me":{"id"'
    expect "$url" '{ greeting }' "" '"greeting"'
    bench "$REF_KEY" "ref-graphql: \`{ me { id } }\` (token) — ENGINE REFERENCE" "$url" '{ me { id } }' "$token"
    bench ref-graphql-greeting "ref-graphql: \`{ greeting }\`" "$url" '{ greeting }' ""
    stop_pid "$SERVER_PID"
}

# --- Warden on one database ------------------------------------------------------------------
# run_warden TAG PID PORT: every Warden row against a running instance.
run_warden() {
    local tag="$1" pid="$2" port="$3"
    local url="http://127.0.0.1:$port/graphql" token revoked hwm
    token="$(token_for "$url")"

    expect "$url" '{ greeting }' "" '"greeting"'
    bench "$tag-greeting-anon" "Warden $tag: \`{ greeting }\` anonymous" "$url" '{ greeting }' ""

    expect "$url" '{ greeting }' "$token" '"greeting"'
    bench "$tag-greeting-token" "Warden $tag: \`{ greeting }\` (token)" "$url" '{ greeting }' "$token"

    token="$(token_for "$url")"
    expect "$url" "$ME_QUERY" "$token" "\"email\":\"$ADMIN_EMAIL\""
    bench "$tag-me" "Warden $tag: \`$ME_QUERY\` (token)" "$url" "$ME_QUERY" "$token"

    revoked="$(token_for "$url")"
    expect "$url" 'mutation { logout }' "$revoked" '"logout":true'
    expect "$url" "$ME_QUERY" "$revoked" '"TOKEN_REVOKED"'
    bench "$tag-me-revoked" "Warden $tag: \`$ME_QUERY\` (revoked token)" "$url" "$ME_QUERY" "$revoked"

    token="$(token_for "$url")"
    local rss_before hwm_before rss_peak sampler
    rss_before="$(mib VmRSS "$pid")"
    hwm_before="$(mib VmHWM "$pid")"
    # Sample VmRSS every 100 ms while 256 connections hammer `me`: the peak of the run itself,
    # apart from the password hashes of the earlier logins (VmHWM keeps those).
    (while kill -0 "$pid" 2>/dev/null; do mib VmRSS "$pid"; echo; sleep 0.1; done) >"$TMP/$tag-rss.txt" 2>/dev/null &
    sampler=$!
    PIDS+=("$sampler")
    bench "$tag-me-256" "Warden $tag: \`$ME_QUERY\` (token, 256 connections)" "$url" "$ME_QUERY" "$token" 256
    kill "$sampler" 2>/dev/null || true
    rss_peak="$(sort -n "$TMP/$tag-rss.txt" | tail -n1)"
    hwm="$(mib VmHWM "$pid")"
    EXTRA+=("Warden $tag peak RSS during the 256-connection run: **$rss_peak MiB** (target ≤ 64 MiB); RSS before it $rss_before MiB; VmHWM over the whole process so far $hwm MiB (before the run $hwm_before MiB: start-up, logins and the earlier rows)")

    # Login storm: 8 clients log in for the whole measurement, on CPU 1 beside the main wrk.
    # A 30 s wrk timeout: a client waits for its answer, so at most 8 logins are in flight.
    token="$(token_for "$url")"
    expect "$url" "$LOGIN_QUERY" "" '"accessToken"'
    local storm_s=$((WARMUP_S + DURATION_S + 2))
    local storm_out="$TMP/$tag-storm-login.txt"
    BODY="$(body "$LOGIN_QUERY")" TOKEN="" timeout $((storm_s + 90)) \
        taskset -c 1 wrk -t1 -c8 -d"${storm_s}s" --timeout 30s --latency -s "$HERE/post.lua" "$url" \
        >"$storm_out" 2>&1 &
    local storm_pid=$!
    PIDS+=("$storm_pid")
    sleep 1
    bench "$tag-me-storm" "Warden $tag: \`$ME_QUERY\` (token) during a login storm (8 clients)" \
        "$url" "$ME_QUERY" "$token"
    wait "$storm_pid" || {
        cat "$storm_out" >&2
        die "login storm wrk failed"
    }
    local logins login_p99 login_errors
    logins="$(field "$storm_out" rps)"
    login_p99="$(field "$storm_out" p99_us)"
    login_errors="$(field "$storm_out" errors)"
    hwm="$(mib VmHWM "$pid")"
    EXTRA+=("Warden $tag login storm: me p99 quiet $(ms "${P99[$tag-me]}") ms → storm $(ms "${P99[$tag-me-storm]}") ms, ratio **$(ratio "${P99[$tag-me-storm]}" "${P99[$tag-me]}")×** (target ≤ 3×); logins ${logins:-?}/s, login p99 $(ms "${login_p99:-0}") ms, ${login_errors:-?} login socket errors/timeouts; VmHWM after the storm $hwm MiB")
    EXTRA+=("Warden $tag revoked vs valid token: req/s ratio **$(ratio "${RPS[$tag-me-revoked]}" "${RPS[$tag-me]}")** (target ≥ 1, i.e. a revoked token costs no more)")
}

# --- run ---------------------------------------------------------------------------------------
log "temporary files in $TMP; DURATION=$DURATION CONNECTIONS=$CONNECTIONS WARMUP=$WARMUP"

port="$(free_port)"
log "Warden (SQLite) on :$port"
start_warden sqlite "$port" "sqlite://$TMP/warden.db?mode=rwc"
SQLITE_PID="$SERVER_PID"
SQLITE_URL="http://127.0.0.1:$port/graphql"

# The references verify a token Warden issued (same key); Warden idles meanwhile.
run_references "$(token_for "$SQLITE_URL")"

run_warden SQLite "$SQLITE_PID" "$port"
stop_pid "$SQLITE_PID"

if [ -n "$TEST_DATABASE_URL" ]; then
    db="warden_load_$$_$RANDOM"
    log "creating PostgreSQL database $db"
    timeout 30 psql "$TEST_DATABASE_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
    DATABASES+=("$db")
    base="${TEST_DATABASE_URL%%\?*}"
    query=""
    [ "$base" = "$TEST_DATABASE_URL" ] || query="?${TEST_DATABASE_URL#*\?}"
    PG_URL="${base%/*}/$db$query"

    port="$(free_port)"
    log "Warden (PostgreSQL) on :$port"
    start_warden pg-a "$port" "$PG_URL"
    PG_A_PID="$SERVER_PID"
    PG_A_URL="http://127.0.0.1:$port/graphql"
    run_warden PostgreSQL "$PG_A_PID" "$port"

    port_b="$(free_port)"
    log "second Warden (PostgreSQL, same database) on :$port_b"
    start_warden pg-b "$port_b" "$PG_URL"
    PG_B_URL="http://127.0.0.1:$port_b/graphql"
    log "cross-instance revocation delay ($REVOCATION_SAMPLES samples)"
    revocation_out="$TMP/revocation.txt"
    probe_status=0
    timeout $((REVOCATION_SAMPLES * 7 + 60)) taskset -c 1 "$BIN/probe" revocation-delay \
        --a "$PG_A_URL" --b "$PG_B_URL" --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" \
        --samples "$REVOCATION_SAMPLES" >"$revocation_out" 2>"$TMP/revocation.log" || probe_status=$?
    line="$(grep '^revocation-delay ' "$revocation_out" || true)"
    if [ -n "$line" ]; then
        rp50="$(sed -n 's/.*p50_ms=\([^ ]*\).*/\1/p' <<<"$line")"
        rp99="$(sed -n 's/.*p99_ms=\([^ ]*\).*/\1/p' <<<"$line")"
        rmax="$(sed -n 's/.*max_ms=\([^ ]*\).*/\1/p' <<<"$line")"
        rok="$(sed -n 's/.* ok=\([^ ]*\).*/\1/p' <<<"$line")"
        rfail="$(sed -n 's/.*failures=\([^ ]*\).*/\1/p' <<<"$line")"
        EXTRA+=("Cross-instance revocation delay (PostgreSQL, logout on A → TOKEN_REVOKED on B): p50 **$rp50 ms**, p99 **$rp99 ms**, max $rmax ms; $rok ok, $rfail failed of $REVOCATION_SAMPLES (target p99 ≤ 100 ms)")
    else
        tail -n 20 "$TMP/revocation.log" >&2
        EXTRA+=("Cross-instance revocation delay: probe failed (exit $probe_status): $(tail -n1 "$TMP/revocation.log")")
    fi
    [ "$probe_status" -eq 0 ] || tail -n 5 "$TMP/revocation.log" >&2
else
    EXTRA+=("PostgreSQL rows and cross-instance revocation delay: skipped (set TEST_DATABASE_URL)")
fi

# --- report ------------------------------------------------------------------------------------
mkdir -p "$LOAD_TARGET"
report="$LOAD_TARGET/results.md"
{
    echo "## Warden load benchmark"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)); servers on CPU 0, wrk on CPU 1; wrk -t1 -c$CONNECTIONS -d$DURATION (warm-up $WARMUP) unless noted; $WARDEN_LABEL"
    echo
    echo "| request | req/s | p50 | p99 | ratio to engine reference |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for row in "${ROWS[@]}"; do
        key="${row%%|*}"
        label="${row#*|}"
        printf '| %s | %.0f | %s ms | %s ms | %s |\n' "$label" "${RPS[$key]}" \
            "$(ms "${P50[$key]}")" "$(ms "${P99[$key]}")" "$(ratio "${RPS[$key]}" "${RPS[$REF_KEY]}")"
    done
    echo
    for line in "${EXTRA[@]}"; do echo "- $line"; done
} >"$report"
echo
cat "$report"
echo
log "written to $report"
