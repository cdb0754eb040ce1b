-- wrk script: POST a JSON GraphQL body to the URL given on the command line.
--   BODY   the JSON request body (default: {"query":"{ greeting }"})
--   TOKEN  when set and not empty, sent as `Authorization: Bearer $TOKEN`
-- At the end it prints one machine-readable line that run.sh parses:
--   RESULT requests=N rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. errors=E non2xx=S
-- No per-response callback is defined, so wrk keeps its fast path (no Lua per request).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("BODY") or '{"query":"{ greeting }"}'

local token = os.getenv("TOKEN")
if token ~= nil and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1000000
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d non2xx=%d\n",
    summary.requests,
    summary.requests / seconds,
    latency:percentile(50),
    latency:percentile(90),
    latency:percentile(99),
    latency.max,
    e.connect + e.read + e.write + e.timeout,
    e.status))
end
