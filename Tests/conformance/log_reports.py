"""Pytest hooks that attach to a failed test's report what every server and helper process
printed during that test (shared by the conformance and cluster suites: each conftest imports
these two hooks by name, which is how pytest finds them)."""

from __future__ import annotations

from typing import Dict

import pytest

from harness import LogSource

_MARKS = "_ripple_log_marks"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    setattr(item, _MARKS, {id(src): src.size() for src in LogSource.registry})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    marks: Dict[int, int] = getattr(item, _MARKS, {})
    for source in LogSource.registry:
        start = marks.get(id(source), 0)
        if source.size() <= start:
            continue
        report.sections.append((f"{source.name} (output during this test, tail)", source.text_since(start)))
