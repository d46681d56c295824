"""Files the user names (--out) and files that hold patient data.

Every file we write is created readable by the user only (0600) from its first moment, in a
securely created temporary file beside the target (tempfile.mkstemp: a random name opened with
O_EXCL, so a planted symlink is never followed), fsynced, then moved into place. Nothing that
exists is replaced unless asked (--force), and then only a regular file: never a device, FIFO,
socket or directory, and never through a symbolic link.
"""

import contextlib
import errno
import os
import stat
import tempfile

from .errors import DowelError

FILE_MODE = 0o600
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class OutputFileError(DowelError):
    """A file named with --out (or --truth) cannot be written, or may not be replaced."""

    title = "Output file"


def _kind(mode):
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _why(e):
    return e.strerror or str(e)


def check_target(path, force=False):
    """Raise OutputFileError unless `path` may be written: absent, or (with force) a regular
    file that is not a symbolic link."""
    path = str(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise OutputFileError("cannot write %s: the directory %s does not exist"
                                  % (path, parent)) from None
        return
    except OSError as e:
        raise OutputFileError("cannot write %s (%s)" % (path, _why(e))) from e
    if not stat.S_ISREG(st.st_mode):
        raise OutputFileError("%s is %s; smart-dowel only ever writes regular files (choose "
                              "another name)" % (path, _kind(st.st_mode)))
    if not force:
        raise OutputFileError("%s already exists; it was left untouched (use --force to "
                              "replace it, or choose another name)" % path)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the file itself is synced
    finally:
        os.close(fd)


def _install(tmp, path, force):
    """Move the finished temporary file to `path`: without force by a hard link, which fails
    if anything appeared there meanwhile; with force only over a regular file."""
    if not force:
        try:
            os.link(tmp, path, follow_symlinks=False)
        except FileExistsError:
            raise OutputFileError("%s appeared while it was being written; it was left "
                                  "untouched (use --force to replace it)" % path) from None
        except OSError as e:
            if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV,
                               errno.EMLINK, errno.ENOSYS, errno.EACCES):
                raise
            # no hard links on this file system (FAT, some network shares): check, then move
            check_target(path, force=False)
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
        return
    check_target(path, force=True)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_output(path, force=False, binary=False):
    """Open a new 0600 file to fill; it appears at `path` only once the block succeeds, so a
    failure (a full disk, an exception) leaves whatever was there and no half-written file.

        with atomic_output(args.out, force=args.force) as f:
            f.write(text)

    Raises OutputFileError (existing target without force, not a regular file, a symlink,
    or any OSError while writing).
    """
    path = str(path)
    check_target(path, force)
    directory = os.path.dirname(path) or "."
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path)[:60],
                                   suffix=".tmp")
    except OSError as e:
        raise OutputFileError("cannot write %s (%s)" % (path, _why(e))) from e
    done = False
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp gives 0600 already; make sure of it
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else
                                                       {"encoding": "utf-8", "newline": ""})) as f:
            fd = None
            yield f
            f.flush()
            os.fsync(f.fileno())
        _install(tmp, path, force)
        done = True
        _fsync_dir(directory)
    except OSError as e:
        raise OutputFileError("cannot write %s (%s); nothing was written there"
                              % (path, _why(e))) from e
    finally:
        if fd is not None:
            os.close(fd)
        if not done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def write_text(path, text, force=False):
    """Write `text` to a new 0600 file at `path` via atomic_output."""
    with atomic_output(path, force=force) as f:
        f.write(text)


def create_private(path, force=False, binary=True):
    """Create `path` 0600 for streaming output (a recording that grows while it is written)
    and return it open for writing. The file is opened O_EXCL|O_NOFOLLOW: never through a
    symbolic link, never onto something that exists; with force an existing regular file is
    first removed. Raises OutputFileError."""
    path = str(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    for _attempt in range(3):
        check_target(path, force)
        if force and os.path.lexists(path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise OutputFileError("cannot replace %s (%s)" % (path, _why(e))) from e
        try:
            fd = os.open(path, flags, FILE_MODE)
        except FileExistsError:
            continue  # something appeared between the check and the open: check it again
        except OSError as e:
            raise OutputFileError("cannot write %s (%s)" % (path, _why(e))) from e
        break
    else:
        raise OutputFileError("%s keeps reappearing while it is being created; it was left "
                              "untouched" % path)
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
