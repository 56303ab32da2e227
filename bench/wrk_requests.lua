-- wrk script for bench/streams_bench.ts: a fixed set of requests, sent in turn.
--
--   BPT_REQUESTS="$(printf 'GET\t/health\t\n')" wrk -t1 -c50 -d10s --latency \
--     -s bench/wrk_requests.lua http://127.0.0.1:3000
--
-- BPT_REQUESTS holds one request per line (the environment, so the bench needs no file), fields
-- separated by tabs:
--   METHOD <tab> PATH <tab> Header-Name: value <tab> … <tab> BODY (the last field; may be empty)
-- e.g. one sample POST per rider's workout, each with its rider's Bearer token (REST ingest at
-- 1 Hz per rider, many riders), or one GET. Every request is built once in init(), so wrk spends
-- no time building them; request() hands out the next one.

local requests = {}
local next_request = 1

-- Tally the statuses seen, so a run that got 4xx/5xx cannot pass for a fast one (a global, so
-- that done() can collect it from every thread).
statuses = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(fields, field) end
  return fields
end

function init(args)
  statuses = {}
  local text = os.getenv("BPT_REQUESTS") or error("BPT_REQUESTS is not set")
  for line in text:gmatch("[^\n]+") do
    if line ~= "" then
      local f = split(line)
      local headers = {}
      for i = 3, #f - 1 do
        local name, value = f[i]:match("^([^:]+):%s*(.*)$")
        headers[name] = value
      end
      local body = f[#f]
      if body == "" then body = nil end
      table.insert(requests, wrk.format(f[1], f[2], headers, body))
    end
  end
  -- Threads (and connections, which share a thread's turn) start at different requests.
  next_request = 1
end

function request()
  local r = requests[next_request]
  next_request = next_request % #requests + 1
  return r
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
end
