set -e
curl -X POST https://your-fabric-instance.com/api/v1/external/agents/{agentId}/execute \
-H "Authorization: Bearer fab_xxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
-H "Content-Type: application/json" \
-d '{
"input": {
"message": "Summarize the Q4 sales report"
}
}'
echo
curl -X POST https://your-fabric-instance.com/api/v1/external/agents/{agentId}/execute \
-H "Authorization: Bearer fab_xxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" \
-H "X-Idempotency-Key: order-12345-retry-1" \
-H "Content-Type: application/json" \
-d '{"input": {"message": "Process order 12345"}}'
echo
