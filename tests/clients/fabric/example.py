import requests
import time

API_KEY = "fab_xxxxxxxx_..."
BASE_URL = "https://your-fabric-instance.com/api/v1/external"
AGENT_ID = "your-agent-id"

headers = {
    "Authorization": f"Bearer {API_KEY}",
    "Content-Type": "application/json",
}

# Start execution
response = requests.post(
    f"{BASE_URL}/agents/{AGENT_ID}/execute",
    headers=headers,
    json={"input": {"message": "Analyze last month's support tickets"}},
)
execution = response.json()
execution_id = execution["executionId"]

# Poll for result
while True:
    result = requests.get(
        f"{BASE_URL}/executions/{execution_id}",
        headers=headers,
    ).json()
    if result["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
        break
    time.sleep(2)

print(result)
