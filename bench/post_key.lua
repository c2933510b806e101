-- wrk script: durable writes through the real key-creation path (POST /agentd/v1/keys).
wrk.method = "POST"
wrk.body = '{"name":"bench","scopes":["agents:read"]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("AGENTD_BENCH_KEY")

local non201 = 0
function response(status, headers, body)
  if status ~= 201 then non201 = non201 + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("non-201 responses: %d\n", non201))
end
