"""A throwaway PostgreSQL server for the tests: `initdb` into a temporary folder, `pg_ctl` on a
free loopback port with its unix socket in that folder, one database per test.

`initdb` and the server refuse to run as root: as root they run as the `postgres` user (made
if missing). The binaries are found on PATH, else under /usr/lib/postgresql/<version>/bin
(Debian's `postgresql` package; `scripts/setup.sh` installs it).
"""

from __future__ import annotations

import glob
import itertools
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile

USER = "postgres"


def binaries() -> pathlib.Path | None:
    """The folder holding `initdb`, `pg_ctl` and `postgres`, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return pathlib.Path(os.path.realpath(found)).parent
    folders = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2] or 0)
    )
    for folder in reversed(folders):
        if os.access(os.path.join(folder, "initdb"), os.X_OK):
            return pathlib.Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> tuple[list[str], int | None, int | None]:
    """How to run the server's programs: as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        account = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            capture_output=True,
        )
        account = pwd.getpwnam(USER)
    runner = shutil.which("runuser")
    prefix = [runner, "-u", USER, "--"] if runner else ["su", USER, "-s", "/bin/sh", "-c"]
    return prefix, account.pw_uid, account.pw_gid


class PostgresServer:
    """One server for a test session; `new_database()` gives each test a database of its own."""

    def __init__(self) -> None:
        found = binaries()
        if found is None:
            raise RuntimeError("PostgreSQL is not installed (run scripts/setup.sh)")
        self.bin = found
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="copilot-postgres-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._prefix, uid, gid = _as_server_user()
        if uid is not None and gid is not None:
            os.chown(self.folder, uid, gid)
        self.user = USER if uid is not None else pwd.getpwuid(os.geteuid()).pw_name
        self._names = itertools.count()
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
            "--no-sync", "--locale=C",
        )  # fmt: skip

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self._prefix[-1:] == ["-c"]:  # su takes one shell command line
            command = [" ".join(f"'{part}'" for part in command)]
        subprocess.run(
            [*self._prefix, *command], check=True, capture_output=True, timeout=120, text=True
        )

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -k {self.folder} -h 127.0.0.1 -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:  # not running
            pass
        shutil.rmtree(self.folder, ignore_errors=True)
