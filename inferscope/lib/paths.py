import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def data_dir() -> Path:
    """Where the embedded mode keeps its files: SQLite, broker queue, keys, spool."""
    return Path(os.environ.get("INFERSCOPE_DATA_DIR") or BASE_DIR / "var").resolve()
