"""Test custom agent: plain text on stdout is the answer."""
import json
import sys

req = json.loads(sys.stdin.readline())
print("you said: " + req["input"].get("text", ""))
