"""A throw-away PostgreSQL cluster for the tests: initdb into a temporary folder,
listening on a unix socket in that folder only (no TCP), started and stopped
with pg_ctl.

The server binaries come from Debian's `postgresql` package
(.ci/install-postgres.sh; /usr/lib/postgresql/N/bin) or PATH. PostgreSQL
refuses to run as root, so as root (CI, this machine) the cluster belongs to
the `postgres` user the package creates and every server command runs through
`runuser`. The superuser role is `postgres`, trusted on the socket; the role
`oat_pw` must give a password (scram-sha-256), for the wrong-password tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD_ROLE = "oat_pw"
PASSWORD = "right-password-" + uuid.uuid4().hex[:8]
RUN_AS = "postgres"


def find_bindir() -> Path | None:
    if os.environ.get("OAT_TESTS_NO_POSTGRES"):  # to exercise the skip/fail paths
        return None
    given = os.environ.get("OAT_PG_BINDIR")
    if given:
        return Path(given) if (Path(given) / "initdb").exists() else None
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def why_not_runnable() -> str | None:
    """Why a cluster cannot be started here (None: it can)."""
    if find_bindir() is None:
        return (
            "PostgreSQL's server binaries (initdb, pg_ctl) are not installed: "
            "bash .ci/install-postgres.sh (Debian's postgresql package)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError:
            return f"running as root and there is no '{RUN_AS}' user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root and runuser (util-linux) is missing"
    return None


@dataclass
class Cluster:
    bindir: Path
    folder: Path
    log: Path = field(init=False)
    running: bool = False
    durable: bool = False
    """fsync and synchronous commits on, as a real server runs (benchmarks); the
    tests turn them off, a throw-away cluster needs neither."""

    def __post_init__(self) -> None:
        self.log = self.folder / "server.log"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@/{database}?host={self.socket_dir}"

    def _as_owner(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", RUN_AS, "--", *argv]
        return argv

    def _run(self, argv: list[str], timeout: float = 60) -> None:
        proc = subprocess.run(
            self._as_owner(argv), capture_output=True, text=True, timeout=timeout, cwd="/"
        )
        if proc.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({proc.returncode}): {proc.stderr.strip()}\n{log}"
            )

    def init(self) -> None:
        self._run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=reject",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ]
        )
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            f"local all {PASSWORD_ROLE} scram-sha-256\nlocal all all trust\n", encoding="utf-8"
        )
        conf = self.data / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as out:
            out.write(
                "\nlisten_addresses = ''\n"
                f"unix_socket_directories = '{self.socket_dir}'\n"
                + ("" if self.durable else "fsync = off\nfull_page_writes = off\n")
                + ("" if self.durable else "synchronous_commit = off\n")
                + "max_connections = 200\nshared_buffers = 64MB\n"
            )
        self._chown()

    def _chown(self) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(RUN_AS)
            for path in (
                self.folder,
                self.data,
                self.data / "pg_hba.conf",
                self.data / "postgresql.conf",
            ):
                os.chown(path, owner.pw_uid, owner.pw_gid)

    def start(self) -> None:
        self._run(
            [
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])
        self.running = False

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(statement.encode())
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        self.sql(f"CREATE DATABASE {name}")
        return name

    def remove(self) -> None:
        if self.running:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def new_cluster(*, durable: bool = False) -> Cluster:
    bindir = find_bindir()
    assert bindir is not None
    folder = Path(tempfile.mkdtemp(prefix="oat-pg-"))
    os.chmod(folder, 0o700)
    cluster = Cluster(bindir, folder, durable=durable)
    if os.geteuid() == 0:
        owner = pwd.getpwnam(RUN_AS)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    try:
        cluster.init()
        cluster.start()
        cluster.sql(f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'")
    except BaseException:
        cluster.remove()
        raise
    return cluster
