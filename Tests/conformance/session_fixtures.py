"""Session fixtures both Python suites use (Tests/conformance and Tests/cluster): each conftest
imports them, so there is one definition of each."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from harness import JwksServer


@pytest.fixture(scope="session")
def jwks():
    """A local OIDC issuer (discovery + JWKS on loopback) that signs test tokens."""
    server = JwksServer()
    yield server
    server.close()


def scratch_directory(prefix: str, keep_variable: str, label: str) -> Iterator[Path]:
    """Body of a suite's `work_dir` fixture: a temporary directory, removed at the end unless
    the environment variable `keep_variable` is "1" (then its path is printed)."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    yield base
    if os.environ.get(keep_variable) != "1":
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"\n{label}: kept {base}")
