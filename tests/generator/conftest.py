import pytest


@pytest.fixture(scope="session")
def builtin():
    """The shipped model, loaded once for the whole session."""
    from generator import load_builtin

    return load_builtin()
