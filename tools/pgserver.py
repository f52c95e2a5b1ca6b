"""A throwaway PostgreSQL server for tests and demos.

The gradebook is any SQLAlchemy URL; the test suite checks PostgreSQL for real
by starting a private server from Debian's binaries::

    with PostgresServer() as url:          # postgresql+psycopg2://postgres@127.0.0.1:PORT/gradebook
        ...

What it does, in order:

1. finds ``initdb`` / ``pg_ctl`` under ``/usr/lib/postgresql/<version>/bin``
   (newest version first; ``COURSE_PG_BIN`` overrides, then ``PATH``);
2. ``initdb`` into a fresh temporary directory with trust authentication and
   the superuser ``postgres``;
3. starts the server with ``pg_ctl`` listening only on 127.0.0.1 on a free
   port (and on a unix socket inside the temporary directory, never in
   ``/var/run/postgresql``), durability switched off since the data is thrown
   away;
4. creates the database and hands out its URL;
5. on exit stops the server (``pg_ctl stop -m immediate``) and deletes the
   directory. A server left running by a crashed process is stopped at
   interpreter exit too.

PostgreSQL refuses to run as root. When we are root (CI), initdb and the
server run as an unprivileged system user (``postgres`` from the Debian
package, else ``nobody``) and the temporary directory is owned by that user.

Run ``python -m tools.pgserver`` to start one by hand (for example to
point ``course autograde --db URL`` and the formgrader at it); Ctrl-C stops it.
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PostgresNotFound", "PostgresServer", "PostgresServerError", "find_pg_bin"]

INSTALL_HINT = (
    "install PostgreSQL's server with `apt-get install postgresql` "
    "(`make test` does it through tools/system_deps.sh)"
)


class PostgresNotFound(RuntimeError):
    """PostgreSQL's server binaries (initdb, pg_ctl) are not installed."""


class PostgresServerError(RuntimeError):
    """initdb or the server failed; the message carries the server log's tail."""


def _version_key(path: str) -> tuple:
    """Sort key for ``/usr/lib/postgresql/<version>/bin``: numeric version."""
    version = Path(path).parent.name
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.]", version))


def find_pg_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    Looks at ``$COURSE_PG_BIN``, then ``/usr/lib/postgresql/*/bin`` (newest
    version first), then ``PATH``.

    Raises:
        PostgresNotFound: with the install instruction.
    """
    candidates: list[str] = []
    if os.environ.get("COURSE_PG_BIN"):
        candidates.append(os.environ["COURSE_PG_BIN"])
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for cand in candidates:
        d = Path(cand)
        if all(os.access(d / exe, os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return d
    raise PostgresNotFound(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
        "$COURSE_PG_BIN, /usr/lib/postgresql/*/bin or PATH; " + INSTALL_HINT
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresServerError(
        "running as root, and PostgreSQL refuses to run as root; no unprivileged "
        "user `postgres` or `nobody` exists to run it as"
    )


def _traversable_by_others(path: Path) -> bool:
    """Whether every directory from / down to ``path`` has the o+x bit."""
    path = path.resolve()
    for p in [path, *path.parents]:
        if not os.stat(p).st_mode & stat.S_IXOTH:
            return False
    return True


class PostgresServer:
    """A private PostgreSQL server in a temporary directory.

    Use as a context manager (``with PostgresServer() as url``) or call
    :meth:`start` / :meth:`stop`. ``url`` is a SQLAlchemy URL
    ``postgresql+psycopg2://postgres@127.0.0.1:PORT/DBNAME``.

    Args:
        dbname: database created after start-up.
        port: TCP port on 127.0.0.1; default a free one (retried if taken).
        bin_dir: directory of initdb/pg_ctl; default :func:`find_pg_bin`.
        start_timeout: seconds to wait for the server to accept connections.
    """

    superuser = "postgres"

    def __init__(self, dbname: str = "gradebook", *, port: int | None = None,
                 bin_dir: str | os.PathLike | None = None, start_timeout: float = 60.0):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", dbname):
            raise ValueError(f"database name must be an identifier, got {dbname!r}")
        self.dbname = dbname
        self._fixed_port = port
        self.port: int | None = None
        self.bin_dir = Path(bin_dir) if bin_dir else find_pg_bin()
        self.start_timeout = start_timeout
        self.tmpdir: Path | None = None
        self.running = False
        self._user: pwd.struct_passwd | None = _unprivileged_user() if os.geteuid() == 0 else None

    # -- paths ---------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.tmpdir / "sock"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "server.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database (TCP on 127.0.0.1)."""
        if not self.running:
            raise PostgresServerError("server is not running")
        return f"postgresql+psycopg2://{self.superuser}@127.0.0.1:{self.port}/{self.dbname}"

    def admin_url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg2://{self.superuser}@127.0.0.1:{self.port}/{dbname}"

    # -- running the binaries -------------------------------------------------
    def _run(self, args: list[str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a PostgreSQL binary, as the unprivileged user when we are root."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        kw: dict = {}
        if self._user is not None:
            kw = dict(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
            env.update(HOME=str(self.tmpdir), USER=self._user.pw_name, LOGNAME=self._user.pw_name)
        proc = subprocess.run(args, cwd=self.tmpdir, env=env, capture_output=True, text=True,
                              timeout=timeout, **kw)
        if check and proc.returncode != 0:
            raise PostgresServerError(
                f"{Path(args[0]).name} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
                + self._log_tail()
            )
        return proc

    def _log_tail(self, n: int = 30) -> str:
        try:
            lines = self.logfile.read_text(errors="replace").splitlines()[-n:]
        except (OSError, TypeError):
            return ""
        return "\n--- server log (tail) ---\n" + "\n".join(lines) if lines else ""

    def _make_tmpdir(self) -> Path:
        base = Path(tempfile.gettempdir())
        if self._user is not None and not _traversable_by_others(base):
            base = Path("/tmp")  # e.g. TMPDIR under /root: the postgres user could not reach it
        # Short prefix: the unix socket path must stay under ~100 characters.
        tmp = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
        if self._user is not None:
            os.chown(tmp, self._user.pw_uid, self._user.pw_gid)
        return tmp

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> str:
        """initdb, start, create the database; returns :attr:`url`."""
        if self.running:
            return self.url
        self.tmpdir = self._make_tmpdir()
        atexit.register(self.stop)
        try:
            self._initdb()
            self._start_server()
            self._create_database()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _initdb(self) -> None:
        self._run([str(self.bin_dir / "initdb"), "-D", str(self.datadir), "-U", self.superuser,
                   "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"])
        self._run(["mkdir", "-m", "0700", str(self.socket_dir)])
        conf = "\n".join([
            "",
            "# throwaway test server (tools/pgserver.py)",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "max_connections = 100",
            "shared_buffers = 16MB",
            "dynamic_shared_memory_type = mmap",
            "logging_collector = off",
            "",
        ])
        with open(self.datadir / "postgresql.conf", "a") as f:
            f.write(conf)

    def _start_server(self) -> None:
        attempts = 1 if self._fixed_port else 5
        for attempt in range(attempts):
            self.port = self._fixed_port or _free_port()
            proc = self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.datadir),
                              "-l", str(self.logfile), "-w", "-t", str(int(self.start_timeout)),
                              "-o", f"-p {self.port}", "start"], check=False,
                             timeout=self.start_timeout + 30)
            if proc.returncode == 0:
                self.running = True
                return
            log = self._log_tail()
            port_taken = "could not bind" in log or "Address already in use" in log
            if not port_taken or attempt == attempts - 1:
                raise PostgresServerError(
                    f"pg_ctl start failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}{log}")
            self.logfile.unlink(missing_ok=True)

    def create_database(self, dbname: str) -> str:
        """Create another database on the running server; returns its SQLAlchemy URL."""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", dbname):
            raise ValueError(f"database name must be an identifier, got {dbname!r}")
        self._create_database(dbname)
        return self.admin_url(dbname)

    def _create_database(self, dbname: str | None = None) -> None:
        import sqlalchemy as sa

        dbname = dbname or self.dbname
        engine = sa.create_engine(self.admin_url(), isolation_level="AUTOCOMMIT")
        try:
            deadline = time.monotonic() + self.start_timeout
            while True:
                try:
                    with engine.connect() as conn:
                        conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
                    return
                except sa.exc.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)  # pg_ctl -w returned but the socket is not ready yet
        finally:
            engine.dispose()

    def stop(self) -> None:
        """Stop the server (immediately; the data is thrown away) and delete its directory."""
        try:
            if self.running or (self.tmpdir is not None and (self.datadir / "postmaster.pid").exists()):
                self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                           "-w", "stop"], check=False, timeout=60)
        finally:
            self.running = False
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
                self.tmpdir = None
            atexit.unregister(self.stop)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running on 127.0.0.1:{self.port}" if self.running else "stopped"
        return f"<PostgresServer {self.dbname!r} {state}>"


def main() -> None:  # pragma: no cover - manual use
    import signal

    with PostgresServer() as url:
        print(url, flush=True)
        print("Ctrl-C stops the server and deletes its data.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
