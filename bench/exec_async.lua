-- wrk script: asynchronous executions (202 once durable). BENCH_LIMIT (per wrk thread) caps
-- how many are submitted; after that the thread only hits /healthz until the run ends.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  sent = 0
  accepted = 0
  limit = tonumber(os.getenv("BENCH_LIMIT") or "1000000000")
  path = os.getenv("BENCH_PATH")
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("AGENTD_BENCH_KEY"),
  }
end

function request()
  if sent < limit then
    sent = sent + 1
    return wrk.format("POST", path, headers, '{"input":{"message":"hello world"}}')
  end
  return wrk.format("GET", "/healthz")
end

function response(status, hdrs, body)
  if status == 202 then accepted = accepted + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("accepted") end
  io.write(string.format("accepted: %d\n", total))
end
