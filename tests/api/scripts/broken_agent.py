"""Test custom agent: fails with a message on stderr."""
import sys

sys.stderr.write("something went wrong: no database\n")
sys.exit(3)
