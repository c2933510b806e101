-- wrk script: the fake model server alone, with the request agentd sends it, to measure the
-- model's own latency.
wrk.method = "POST"
wrk.body = '{"model":"echo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hello world"}]}'
wrk.headers["Content-Type"] = "application/json"
