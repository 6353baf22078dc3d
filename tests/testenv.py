"""Loaded with `-p tests.testenv` before Django is configured: the test run keeps
its files (embedded broker queue, secret key) away from a `make run` beside it."""

import atexit
import os
import shutil
import tempfile

if "INFERSCOPE_DATA_DIR" not in os.environ:
    _data_dir = tempfile.mkdtemp(prefix="inferscope-test-")
    os.environ["INFERSCOPE_DATA_DIR"] = _data_dir
    atexit.register(shutil.rmtree, _data_dir, ignore_errors=True)
