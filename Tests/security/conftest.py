"""Fixtures for the Ripple security suite: hostile input against a running node.

Run:  RIPPLE_CHAT_BIN=/path/to/chat .venv/bin/python -m pytest -q Tests/security

The fixtures are the conformance suite's (Tests/conformance/conftest.py: `server`,
`server_factory`, `raw_socket`, `client_factory`, `jwks`, `make_token`, `admin_key`, the failure
reports and the watchdog that restarts a shared server that died), loaded from there so both
suites start servers and clients the same way. See README.md for what each file attacks.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFORMANCE = HERE.parent / "conformance"
sys.path.insert(0, str(CONFORMANCE))

_spec = importlib.util.spec_from_file_location("conformance_conftest", CONFORMANCE / "conftest.py")
_conformance = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _conformance  # dataclasses look their module up while it loads
_spec.loader.exec_module(_conformance)

# Fixtures and report hooks, under their own names so pytest finds them here.
globals().update({name: getattr(_conformance, name) for name in [
    "chat_bin", "work_dir", "jwks", "make_token", "admin_key", "server", "server_factory", "client_factory", "client",
    "raw_socket", "pytest_runtest_makereport", "pytest_runtest_setup", "_shared_server_watchdog",
]})
