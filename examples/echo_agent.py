#!/usr/bin/env python3
"""An agentd custom agent that works offline: it answers by echoing the message it was given,
word by word, as a stream. agentd writes the execution's input as one JSON line on stdin and
reads JSON lines from stdout: {"type": "text", "text": ...} is streamed to clients as it
arrives, {"type": "result", "output": {...}} is the execution's output."""
import json
import sys
import time

request = json.loads(sys.stdin.readline())
message = request.get("message") or json.dumps(request.get("input", {}))
words = message.split()
for i, word in enumerate(words):
    text = word if i == 0 else " " + word
    print(json.dumps({"type": "text", "text": text}), flush=True)
    time.sleep(0.01)
print(json.dumps({"type": "result", "output": {
    "response": message,
    "words": len(words),
}}), flush=True)
