#!/usr/bin/env bash
# The GraphQL-over-HTTP compliance audit in CI: builds Warden, starts it on a free port with a
# fresh SQLite database, runs graphql-http's auditServer against it (audit.mjs) and stops it.
# The last line is `audit: N passed, M failed`; the exit status is non-zero when M > 0.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "audit: installing nodejs and npm from Debian" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs npm >/dev/null
fi

(cd "$here" && npm ci --no-audit --no-fund --silent)

(cd "$root" && cargo build --quiet --bin warden)
warden="${CARGO_TARGET_DIR:-$root/target}/debug/warden"

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A free port: bind port 0, read what the kernel chose, release it.
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"

(
    cd "$work"
    DATABASE_URL="sqlite://$work/warden.db?mode=rwc" \
    WARDEN_ADDR="127.0.0.1:$port" \
    JWT_SECRET_KEY="audit-secret-key-audit-secret-key-0123456789" \
    exec "$warden" serve
) >"$work/warden.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
    if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
        "http://127.0.0.1:$port/healthz"; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "audit: warden exited before it was healthy:" >&2
        cat "$work/warden.log" >&2
        echo "audit: 0 passed, 1 failed"
        exit 1
    fi
    sleep 0.2
done
if ! node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
    "http://127.0.0.1:$port/healthz"; then
    echo "audit: warden did not become healthy within 20 s:" >&2
    cat "$work/warden.log" >&2
    echo "audit: 0 passed, 1 failed"
    exit 1
fi

cd "$here"
node audit.mjs "http://127.0.0.1:$port/graphql"
