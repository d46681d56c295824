"""Where patient data lives on disk.

The data directory is created 0700 when we create it; an existing one is checked (a warning if
other users can read it) but never chmodded: it may be a shared directory that is not ours.
Every file holding patient data is created 0600 (smart_dowel.private).
"""

import os
import re
import stat
import sys
import unicodedata
from pathlib import Path

from ..errors import StoreError

APP_NAME = "smart-dowel"
DB_FILENAME = "sessions.sqlite3"
ENV_DATA_DIR = "DOWEL_DATA_DIR"
DIR_MODE = 0o700
FILE_MODE = 0o600
_warned = set()


def data_dir():
    """The per-user data directory; the environment variable DOWEL_DATA_DIR overrides it."""
    override = os.environ.get(ENV_DATA_DIR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def db_path(directory=None):
    return Path(directory if directory is not None else data_dir()) / DB_FILENAME


def check_data_dir(directory, create=True):
    """The data directory as a Path, and a list of warnings about it.

    Missing: created 0700 (with create), or left missing (create=False: reads create nothing).
    Existing: never chmodded; a warning if other users may write in it, StoreError if it is
    not a directory or we cannot use it.
    """
    directory = Path(directory)
    try:
        st = directory.stat()
    except FileNotFoundError:
        if not create:
            return directory, []
        try:
            directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            st = directory.stat()
        except OSError as e:
            raise StoreError(
                "cannot create the data directory %s (%s); set %s to a writable directory"
                % (directory, e.strerror or e, ENV_DATA_DIR)
            ) from e
    except OSError as e:
        raise StoreError("the data directory %s cannot be read by you (%s); set %s to a "
                         "directory of yours" % (directory, e.strerror or e, ENV_DATA_DIR)) from e
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError("the data directory %s is not a directory; set %s to a directory"
                         % (directory, ENV_DATA_DIR))
    if not os.access(directory, os.R_OK | os.X_OK):
        raise StoreError(
            "the data directory %s cannot be read by you (Permission denied: owner uid %d, mode "
            "%o); set %s to a directory of yours"
            % (directory, st.st_uid, stat.S_IMODE(st.st_mode), ENV_DATA_DIR))
    if create and not os.access(directory, os.W_OK):
        raise StoreError(
            "the data directory %s is not writable by you (owner uid %d, mode %o%s), so "
            "sessions cannot be saved there; set %s to a writable directory"
            % (directory, st.st_uid, stat.S_IMODE(st.st_mode),
               ", read-only file system" if _read_only_fs(directory) else "", ENV_DATA_DIR))
    warnings = []
    if st.st_mode & 0o022:
        warnings.append(
            "the data directory %s can be written by other users (mode %o, owner uid %d); it "
            "was left as it is: each smart-dowel file in it is still 0600, but other users can "
            "see, remove or rename them; use a private directory (chmod 700 it if it is yours)"
            % (directory, stat.S_IMODE(st.st_mode), st.st_uid))
    return directory, warnings


def _read_only_fs(directory):
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def warn_once(message, stream=None):
    """Print a warning line on stderr once per process."""
    if message in _warned:
        return
    _warned.add(message)
    print("dowel: warning: %s" % message, file=stream or sys.stderr, flush=True)


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
