"""Where patient data lives on disk, and how files holding it are created.

Everything here is readable by the user only: the data directory is 0700 when we make it, and
every file (database, exports, reports) is created 0600 before a byte is written to it.
"""

import contextlib
import os
import re
import unicodedata
from pathlib import Path

from ..errors import StoreError
from ..private import FILE_MODE, open_private  # noqa: F401  (FILE_MODE: paths.FILE_MODE in db.py)

APP_NAME = "smart-dowel"
DB_FILENAME = "sessions.sqlite3"
ENV_DATA_DIR = "DOWEL_DATA_DIR"
DIR_MODE = 0o700


def data_dir():
    """The per-user data directory; the environment variable DOWEL_DATA_DIR overrides it."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def db_path(directory=None):
    return Path(directory if directory is not None else data_dir()) / DB_FILENAME


def ensure_private_dir(directory):
    """Create the directory 0700 if missing; tighten it to 0700 if we own it and it is wider."""
    directory = Path(directory)
    try:
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(
            "cannot create the data directory %s (%s); set %s to a writable directory"
            % (directory, e.strerror or e, ENV_DATA_DIR)
        ) from e
    st = directory.stat()
    if st.st_uid == os.getuid() and st.st_mode & 0o077:
        try:
            os.chmod(directory, DIR_MODE)
        except OSError as e:
            raise StoreError(
                "cannot make the data directory %s private (%s)" % (directory, e.strerror or e)
            ) from e
    return directory


def create_private_file(path):
    """Create (or truncate) a file readable by the user only and return it open for writing."""
    path = Path(path)
    try:
        return open_private(path)
    except OSError as e:
        raise StoreError("cannot write %s (%s)" % (path, e.strerror or e)) from e


@contextlib.contextmanager
def private_file_atomically(path):
    """Open a text file to fill; it appears at `path` (0600) only once the block succeeds,
    so a failure (a full disk) never leaves a half-written file."""
    path = Path(path)
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    done = False
    try:
        with create_private_file(tmp) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        done = True
    except OSError as e:
        raise StoreError("cannot write %s (%s)" % (path, e.strerror or e)) from e
    finally:
        if not done and tmp.exists():
            tmp.unlink()


def write_private_text(path, text):
    """Write text to a new 0600 file via a temporary file, so a failure leaves no half file."""
    with private_file_atomically(path) as f:
        f.write(text)


def safe_name(text, max_len=40):
    """A patient name (or any text) reduced to a file-name-safe slug: [a-z0-9-] only.

    Path separators, dots, control characters and anything non-ASCII are dropped, so
    "../../etc/passwd" becomes "etc-passwd" and an empty result becomes "patient".
    """
    norm = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", norm.lower()).strip("-")[:max_len].strip("-")
    return slug or "patient"


def default_export_name(session_id, patient, extension):
    """A file name for an export or report of a session, e.g. "session-12-jane-doe.csv"."""
    ext = re.sub(r"[^a-z0-9]", "", str(extension).lower()) or "txt"
    return "session-%d-%s.%s" % (int(session_id), safe_name(patient), ext)
