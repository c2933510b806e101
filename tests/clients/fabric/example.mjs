const API_KEY = "fab_xxxxxxxx_...";
const BASE_URL = "https://your-fabric-instance.com/api/v1/external";
const AGENT_ID = "your-agent-id";

const headers = {
  Authorization: `Bearer ${API_KEY}`,
  "Content-Type": "application/json",
};

// Start execution
const execResponse = await fetch(`${BASE_URL}/agents/${AGENT_ID}/execute`, {
  method: "POST",
  headers,
  body: JSON.stringify({
    input: { message: "Generate a weekly status report" },
  }),
});
const { executionId } = await execResponse.json();

// Poll for result
let result;
do {
  await new Promise((r) => setTimeout(r, 2000));
  const pollResponse = await fetch(
    `${BASE_URL}/executions/${executionId}`,
    { headers }
  );
  result = await pollResponse.json();
} while (result.status === "PENDING" || result.status === "RUNNING");

console.log(result);
