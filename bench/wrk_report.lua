-- Used by bench/pages.py: counts non-200 and not-signed-in responses, prints BENCH lines.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  marker = args[1]
  bad_status = 0
  not_signed_in = 0
end

function response(status, headers, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif marker and not string.find(body, marker, 1, true) then
    not_signed_in = not_signed_in + 1
  end
end

function done(summary, latency, requests)
  local bad, anon = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad_status")
    anon = anon + t:get("not_signed_in")
  end
  local e = summary.errors
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  io.write(string.format("BENCH timeouts %d\n", e.timeout))
  io.write(string.format("BENCH bad_status %d\n", bad))
  io.write(string.format("BENCH not_signed_in %d\n", anon))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format("BENCH p%d_us %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("BENCH max_us %d\n", latency.max))
end
