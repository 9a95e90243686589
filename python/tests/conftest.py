"""Shared fixtures: the checkout, the sample, the model and the CLI of the build the package came from."""
import os
import shutil
import subprocess

import pytest

import panoptes

try:
    from panoptes import _build_info
except ImportError:  # an installed package built elsewhere
    _build_info = None

REPO = os.environ.get("PANOPTES_HOME") or (_build_info.SOURCE_DIR if _build_info else os.getcwd())


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def sample():
    path = os.path.join(REPO, "data", "vtest.mp4")
    if not os.path.isfile(path):
        pytest.skip("data/vtest.mp4 missing: run scripts/setup.sh")
    return path


@pytest.fixture(scope="session")
def model():
    path = panoptes.default_model()
    if not path:
        pytest.skip("models/nanodet.json missing: run scripts/setup.sh")
    return path


@pytest.fixture(scope="session")
def cli():
    """The panoptes CLI built with the package's library (same code, same flags)."""
    path = os.environ.get("PANOPTES_PY_CLI") or (_build_info.CLI if _build_info else None)
    if not path or not os.access(path, os.X_OK):
        pytest.skip("the CLI of the package's build is missing (set PANOPTES_PY_CLI)")
    return path


@pytest.fixture(scope="session")
def small_clip(tmp_path_factory):
    """A 160x120 H.264 clip of 500 frames (decodes in well under a second)."""
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg missing")
    path = str(tmp_path_factory.mktemp("clips") / "small.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=20",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "50", path], check=True)
    return path
