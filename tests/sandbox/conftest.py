"""Contract tests of the sandbox over real HTTP: every test starts from a reset sandbox."""

import pytest

from tests.fixtures.sandbox import SandboxClient


@pytest.fixture(autouse=True)
def fresh_sandbox(sandbox: SandboxClient) -> SandboxClient:
    sandbox.reset()
    return sandbox
