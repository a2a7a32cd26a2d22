"""The sample fleet validates and generates (a placeholder until the full suite lands)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_sample_fleet_generates(tmp_path):
    out = tmp_path / "build"
    proc = subprocess.run([sys.executable, "-m", "generator", "generate", "--out", str(out), "--jobs", "1"],
                          cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    quota = (out / "technology.cbi" / "k8s" / "resourcequota.yaml").read_text()
    assert "requests.cpu: 13900m" in quota
