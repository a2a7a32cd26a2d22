import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Shared helpers live in tests/fleettest.py (`import fleettest`).
sys.path.insert(0, os.path.join(ROOT, "tests"))
