"""Files that hold patient data: created readable by the user only, from the first moment."""

import os

FILE_MODE = 0o600


def open_private(path, binary=False):
    """Create (or truncate) `path` with mode 0600 and return it open for writing.

    The mode is set at creation (os.open) and enforced with fchmod for a file that already
    existed, so patient data is never briefly world-readable. Raises OSError.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_TRUNC
    except OSError:
        os.close(fd)
        raise
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
