"""The Jsonnet binding every module uses, chosen and tuned in one place."""

from __future__ import annotations

import os

# The Go runtime reads GOGC once, when the binding loads. Our evaluations are short and allocate
# a lot; collecting at 9x the live heap instead of 2x cuts their CPU time by a third. 1,000
# instances, --jobs 2, /usr/bin/time, alternated on this machine: GOGC=100 5.45-6.32 s (8.8-10.1 s
# of CPU, 186-203 MB peak), 400 4.80-5.03 s (7.7-8.2 s, 221-246 MB), 800 4.29-4.62 s (6.7-7.3 s,
# 370-377 MB), 1600 4.42-4.77 s (460-560 MB). Each worker holds one chunk of at most 64 instances,
# whatever the fleet's size. A GOGC set by the user wins.
os.environ.setdefault("GOGC", "800")

# go-jsonnet: 4-5x faster than the C++ binding on our templates (benchmarks/run.py), and the only
# binding installed, so that tests, benchmarks and production evaluate the same way.
import _gojsonnet as binding

evaluate_file = binding.evaluate_file
evaluate_snippet = binding.evaluate_snippet
NAME = binding.__name__
