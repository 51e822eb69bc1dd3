-- Shared by every scenario: the token header, a per-thread random seed, status counting and a
-- `done` that prints the whole result as one JSON line for the bench to read.
-- Settings come from the environment: BENCH_TOKEN, BENCH_MAX_ID, BENCH_SEARCH_TERMS.

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

token = os.getenv("BENCH_TOKEN") or ""
max_id = tonumber(os.getenv("BENCH_MAX_ID") or "1")
expected_conflicts = 0
unexpected_statuses = 0

function seed_random()
  math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
  for _ = 1, 10 do math.random() end
end

function auth_headers(content_type)
  local headers = { ["Authorization"] = "Bearer " .. token }
  if content_type then headers["Content-Type"] = content_type end
  return headers
end

-- Scenarios with expected 409s install this as their `response` callback.
function count_conflicts(status, headers, body)
  if status == 409 then
    expected_conflicts = expected_conflicts + 1
  elseif status >= 300 then
    unexpected_statuses = unexpected_statuses + 1
  end
end

function done(summary, latency, requests)
  local conflicts, unexpected = 0, 0
  for _, thread in ipairs(threads) do
    conflicts = conflicts + (thread:get("expected_conflicts") or 0)
    unexpected = unexpected + (thread:get("unexpected_statuses") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"counts_statuses":%s,"expected_409":%d,"unexpected_status":%d,' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    tostring(response == count_conflicts), conflicts, unexpected,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
