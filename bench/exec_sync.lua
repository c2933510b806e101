-- wrk script: synchronous executions (Prefer: wait) of BENCH_PATH; counts non-200 answers.
wrk.method = "POST"
wrk.body = '{"input":{"message":"hello world"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AGENTD_BENCH_KEY")
wrk.headers["Prefer"] = "wait=60"

local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("non-200 responses: %d\n", bad))
end
