import os
from pathlib import Path

# The source checkout, when running from one (make run, make test).
CHECKOUT_DIR = Path(__file__).resolve().parent.parent.parent


def data_dir() -> Path:
    """Where the embedded mode keeps its files: SQLite, broker queue, keys, spool.

    A checkout keeps them in its own var/; an installed package (a wheel in
    site-packages) must not write beside its code, so it uses the XDG data folder.
    """
    configured = os.environ.get("INFERSCOPE_DATA_DIR")
    if configured:
        return Path(configured).resolve()
    if (CHECKOUT_DIR / "pyproject.toml").is_file():
        return (CHECKOUT_DIR / "var").resolve()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(xdg) / "inferscope").resolve()


# The first login's password, kept (owner-only) until it is changed.
FIRST_LOGIN_FILE = "first-login.txt"


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only, from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
