"""The repository itself: nothing it tracks is a file .gitignore says is generated or local."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from fleettest import ROOT


@pytest.mark.skipif(not shutil.which("git") or not os.path.exists(os.path.join(ROOT, ".git")),
                    reason="not a git checkout")
def test_no_ignored_file_is_tracked():
    """A tracked .build.lock let a pull request replace it with a link that fleet generate then
    truncated; whatever .gitignore ignores is the tool's or the user's, never the repository's."""
    proc = subprocess.run(["git", "-C", ROOT, "ls-files", "-ci", "--exclude-standard"],
                          capture_output=True, text=True, check=True)
    assert proc.stdout == ""
