"""The Jsonnet binding every module uses, chosen and tuned in one place."""

from __future__ import annotations

import os

# The Go runtime reads GOGC once, when the binding loads. Our evaluations are short and allocate
# a lot; collecting at 5x the live heap instead of 2x cuts their CPU time by about a third
# (measured with benchmarks/run.py) for a few MiB more per process. A GOGC set by the user wins.
os.environ.setdefault("GOGC", "400")

# go-jsonnet: 4-5x faster than the C++ binding on our templates (benchmarks/run.py), and the only
# binding installed, so that tests, benchmarks and production evaluate the same way.
import _gojsonnet as binding

evaluate_file = binding.evaluate_file
evaluate_snippet = binding.evaluate_snippet
NAME = binding.__name__
