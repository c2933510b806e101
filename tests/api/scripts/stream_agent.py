"""Test custom agent: streams the words of its message, then a structured result."""
import json
import sys
import time

req = json.loads(sys.stdin.readline())
msg = req["message"]
for i, w in enumerate(msg.split()):
    print(json.dumps({"type": "text", "text": (" " if i else "") + w}), flush=True)
    time.sleep(0.02)
print(json.dumps({"type": "result", "output": {"response": msg.upper(),
                                               "execution_id": req["execution_id"]}}),
      flush=True)
