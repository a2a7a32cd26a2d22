"""Reading back what `fleet generate` wrote: the instances of build/ that NAME selects, and their
files checked against the sha256 that fleet.json recorded (`fleet push`, `status`, `deploy`)."""

from __future__ import annotations

import os

from . import output
from .errors import Diagnostic, FleetError
from .names import pick_names


def select_instances(build_dir: str, names=()) -> tuple[dict, list[str], list[Diagnostic]]:
    """fleet.json of `build_dir`, the instances NAME selects in it (none: all), and a Diagnostic for each
    NAME that selects nothing (returned, for the caller to report with its own); FleetError when
    `build_dir` holds no generated fleet."""
    index_path = os.path.join(build_dir, output.INDEX)
    index = output.read_index(build_dir)
    if index is None or not isinstance(index.get("instances"), dict):
        raise FleetError([Diagnostic(index_path, 0, 0, "", "no generated fleet here (missing or unreadable "
                                     f"{output.INDEX})", hint="run 'fleet generate' first, or pass --build DIR")])
    selected, diags = pick_names(index["instances"], names or ("*",), where=index_path,
                                 missing="no generated instance matches '{}'",
                                 hint="run 'fleet generate' for it, or check the name")
    return index, selected, diags


def read_checked(path: str, expected: str | None, diags: list[Diagnostic], *, required: bool = False) -> bytes | None:
    """A generated file's bytes; None, with a Diagnostic added to `diags`, when it is missing or its
    sha256 is not `expected` (None: fleet.json has no sum for it, nothing to compare, unless `required`:
    deploy records the sum on the live object, so it needs one)."""
    if required and not isinstance(expected, str):
        diags.append(Diagnostic(path, 0, 0, "", f"{output.INDEX} records no sha256 for this file",
                                hint="run 'fleet generate'; do not edit build/"))
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        diags.append(Diagnostic(path, 0, 0, "", "generated file is missing", hint="run 'fleet generate'"))
        return None
    if expected is not None and output.sha256(data) != expected:
        diags.append(Diagnostic(path, 0, 0, "", f"changed since generation (sha256 differs from "
                                f"{output.INDEX})", hint="do not edit build/; run 'fleet generate'"))
        return None
    return data
