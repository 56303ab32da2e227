-- wrk script for bench/streams_bench.ts: the legacy clients' telemetry POST.
--
--   BPT_API_KEY=bench-key wrk -t1 -c50 -d10s --latency -s bench/wrk_post_message.lua \
--     http://127.0.0.1:3000/api/streams/<name>/messages
--
-- Every request carries the shared key header and one COMPAT telemetry message: a JSON text in
-- `message` (what the PWA and the simulator send once per second per rider). The body is fixed,
-- so wrk spends no time building requests; the service still parses and stores every one.

local api_key = os.getenv("BPT_API_KEY") or "bench-key"

local telemetry = '{"power":245,"cadence":92,"heartrate":148,"speed":32.4,"distance":12840.5,'
  .. '"altitude":112.3,"incline":1.5,"timestamp":1764140000000,"elapsed":"00:21:24",'
  .. '"dataType":"workout_metrics","sender":"wrk-bench-rider-0001","sequence":1284}'

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = api_key
-- BPT_AUTHOR overrides the author: one over 64 characters makes every request a 400 that still
-- parses and validates the whole body but never reaches Redis (the "HTTP only" baseline).
local author = os.getenv("BPT_AUTHOR") or "wrk-bench"
wrk.body = '{"message":"' .. telemetry:gsub('"', '\\"') .. '","author":"' .. author .. '"}'

-- Tally the statuses seen, so a run that got 4xx/5xx cannot pass for a fast one (a global, so
-- that done() can collect it from every thread).
statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do total[code] = (total[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(total) do table.insert(parts, code .. "=" .. n) end
  table.sort(parts)
  io.write("STATUSES " .. table.concat(parts, ",") .. "\n")
  io.write("BODY_BYTES " .. #wrk.body .. "\n")
end
