"""Test custom agent: never finishes on its own (the deadline must kill it)."""
import sys
import time

print('{"type": "text", "text": "starting"}', flush=True)
time.sleep(120)
