"""Loaded with `-p tests.testenv` before Django is configured: the test run keeps
its files (embedded broker queue, secret key) away from a `make run` beside it."""

import os
import tempfile

os.environ.setdefault("INFERSCOPE_DATA_DIR", tempfile.mkdtemp(prefix="inferscope-test-"))
