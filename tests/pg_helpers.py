"""A throwaway PostgreSQL cluster for the store's tests, and the `store_backend` parameter that
runs a test on SQLite and on that server.

The cluster lives in a temporary directory (initdb, pg_ctl), listens on 127.0.0.1 only, is run
by an unprivileged user when the tests run as root (initdb refuses root), and is stopped and
removed at the end. Roles as the README's clinic section sets them up: dowel_owner owns each
test database and runs `dowel db upgrade`, the program connects as dowel_app (no superuser, no
DDL). Passwords sit in a libpq password file (PGPASSFILE), never in a URL.
"""

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BINARIES = ("initdb", "pg_ctl", "postgres")
INSTALL_HINT = ("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in "
                "/usr/lib/postgresql/*/bin); .ci/system-deps installs Debian's postgresql package")


def find_bindir():
    """The directory holding initdb, pg_ctl and postgres, or None."""
    candidates = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(os.path.realpath(found)).parent)
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                      key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates += [Path(p) for p in reversed(versions)]
    for d in candidates:
        if all((d / b).exists() for b in BINARIES):
            return d
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A running throwaway cluster: url(role, db), new_database(), restart(), stop()."""

    ADMIN, OWNER, APP = "dowel_admin", "dowel_owner", "dowel_app"

    def __init__(self, bindir):
        self.bindir = Path(bindir)
        self.root = Path(tempfile.mkdtemp(prefix="dowel-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.passwords = {r: secrets.token_hex(12) for r in (self.ADMIN, self.OWNER, self.APP)}
        self._run_as = None
        if os.geteuid() == 0:
            user = "postgres" if _has_user("postgres") else "nobody"
            pw = pwd.getpwnam(user)
            self._run_as = (pw.pw_uid, pw.pw_gid)
        self._count = 0
        self.ssl = False
        self._template = None

    def _pg(self, *args, check=True, timeout=120):
        kw = {}
        if self._run_as is not None:
            kw = {"user": self._run_as[0], "group": self._run_as[1], "extra_groups": []}
        return subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True,
                              text=True, timeout=timeout, check=check, cwd=str(self.root), **kw)

    def init(self):
        os.chmod(self.root, 0o700)
        pwfile = self.root / "pw"
        pwfile.write_text(self.passwords[self.ADMIN] + "\n")
        if self._run_as is not None:
            for p in (self.root, pwfile):
                os.chown(p, *self._run_as)
        try:
            self._pg("initdb", "-D", str(self.data), "-U", self.ADMIN, "--pwfile", str(pwfile),
                     "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8",
                     "--locale=C", "--no-sync", "--no-instructions")
        except subprocess.CalledProcessError as e:
            raise RuntimeError("initdb failed: %s%s" % (e.stdout, e.stderr)) from e
        pwfile.unlink()
        self.ssl = self._make_certificate()
        # the libpq password file the tests (and their `dowel` subprocesses) use
        self.pgpass = self.root / "pgpass"
        self.pgpass.write_text("".join("127.0.0.1:%d:*:%s:%s\n" % (self.port, r, p)
                                       for r, p in self.passwords.items()))
        os.chmod(self.pgpass, 0o600)
        if self._run_as is not None:
            os.chown(self.pgpass, 0, 0)
        self.start()

    def _make_certificate(self):
        """A self-signed certificate for TLS (sslmode=require), where openssl is installed
        (Debian's postgresql package brings it); False without one."""
        openssl = shutil.which("openssl")
        if openssl is None:
            return False
        key, crt = self.data / "server.key", self.data / "server.crt"
        r = subprocess.run([openssl, "req", "-new", "-x509", "-days", "2", "-nodes", "-subj",
                            "/CN=127.0.0.1", "-newkey", "rsa:2048", "-keyout", str(key),
                            "-out", str(crt)], capture_output=True, timeout=60)
        if r.returncode != 0:
            return False
        os.chmod(key, 0o600)
        if self._run_as is not None:
            for p in (key, crt):
                os.chown(p, *self._run_as)
        return True

    def start(self):
        options = "-c listen_addresses=127.0.0.1 -p %d -k %s" % (self.port, self.root)
        if self.ssl:
            options += " -c ssl=on"
        r = self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-t",
                     "60", "-o", options, "start", check=False)
        if r.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError("pg_ctl start failed: %s%s%s" % (r.stdout, r.stderr, log[-2000:]))

    def stop(self, mode="fast"):
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, down_s=0.0):
        """Stop the server (its connections are cut), wait down_s, start it again."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def url(self, role=None, database="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (role or self.APP, self.port, database)

    def admin(self, database="postgres"):
        import psycopg

        return psycopg.connect(self.url(self.ADMIN, database), autocommit=True)

    def setup_roles(self):
        with self.admin() as c:
            for role in (self.OWNER, self.APP):
                c.execute("CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, self.passwords[role]))

    def new_database(self, schema=True):
        """A fresh database owned by dowel_owner with dowel_app's grants; with schema, at
        today's schema (from a template made once with `Store.open(upgrade=True)`)."""
        self._count += 1
        name = "t%d" % self._count
        with self.admin() as c:
            if schema and self._template is None:
                self._template = "dowel_template"
                c.execute("CREATE DATABASE %s OWNER %s" % (self._template, self.OWNER))
                prepare_database(self, self._template, upgrade=True)
            if schema:
                c.execute("CREATE DATABASE %s TEMPLATE %s OWNER %s"
                          % (name, self._template, self.OWNER))
            else:
                c.execute("CREATE DATABASE %s OWNER %s" % (name, self.OWNER))
                prepare_database(self, name, upgrade=False)
        return name

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


GRANTS = """
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO dowel_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dowel_owner IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE ON TABLES TO dowel_app;
ALTER DEFAULT PRIVILEGES FOR ROLE dowel_owner IN SCHEMA public
    GRANT USAGE ON SEQUENCES TO dowel_app;
"""


def prepare_database(cluster, name, upgrade):
    """The README's grants on a database (as its owner), then its schema if asked."""
    import psycopg

    with psycopg.connect(cluster.url(cluster.OWNER, name), autocommit=True) as c:
        c.execute(GRANTS)
    if upgrade:
        from smart_dowel.store import Store

        Store.open(url=cluster.url(cluster.OWNER, name), upgrade=True).close()


def _has_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@contextlib.contextmanager
def running_cluster(bindir):
    """A started cluster with its roles, PGPASSFILE naming its password file meanwhile;
    stopped and removed at the end."""
    cluster = Cluster(bindir)
    old = os.environ.get("PGPASSFILE")
    try:
        cluster.init()
        os.environ["PGPASSFILE"] = str(cluster.pgpass)
        cluster.setup_roles()
        yield cluster
    finally:
        if old is None:
            os.environ.pop("PGPASSFILE", None)
        else:
            os.environ["PGPASSFILE"] = old
        cluster.remove()


@pytest.fixture(scope="session")
def pg_server():
    """The throwaway cluster (skipped, with the reason, where PostgreSQL is not installed)."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(INSTALL_HINT + " (CI must have it)")
        pytest.skip(INSTALL_HINT)
    with running_cluster(bindir) as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_server, monkeypatch, tmp_path):
    """DOWEL_DATABASE_URL naming a fresh database at today's schema, as dowel_app."""
    name = pg_server.new_database()
    url = pg_server.url(database=name)
    monkeypatch.setenv("DOWEL_DATABASE_URL", url)
    monkeypatch.setenv("DOWEL_DATA_DIR", str(tmp_path / "dowel-data"))
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request, tmp_path, monkeypatch):
    """Runs a test once on SQLite (the data directory) and once on the PostgreSQL server
    (DOWEL_DATABASE_URL); returns the backend's name. Store.open() picks it up either way."""
    monkeypatch.setenv("DOWEL_DATA_DIR", str(tmp_path / "dowel-data"))
    monkeypatch.delenv("DOWEL_DATABASE_URL", raising=False)
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")
    return request.param
