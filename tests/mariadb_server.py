"""A real MariaDB server for the tests, started without systemd in one folder (Debian's mariadb-server):
``mariadb-install-db`` makes the data folder, ``mariadbd`` serves it on a free localhost port, and a user with a
password gets one database. Everything it writes is in that folder."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


class MariaDBUnavailable(RuntimeError):
    """The server could not start; the message says why."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalMariaDB:
    def __init__(self, folder: Path):
        self.folder, self.proc, self.port = Path(folder), None, _free_port()
        self.socket = self.folder / "mysqld.sock"

    def _sql(self, statement: str) -> subprocess.CompletedProcess:
        return subprocess.run(["mariadb", "--user=root", f"--socket={self.socket}", "-e", statement],
                              capture_output=True, text=True, timeout=30)

    def start(self, timeout: float = 60) -> "LocalMariaDB":
        missing = [b for b in ("mariadbd", "mariadb-install-db", "mariadb") if shutil.which(b) is None]
        if missing:
            raise MariaDBUnavailable(f"not installed: {', '.join(missing)} (apt-get install -y mariadb-server)")
        data = self.folder / "data"
        subprocess.run(["mariadb-install-db", "--user=root", f"--datadir={data}", "--skip-test-db",
                        "--auth-root-authentication-method=socket"], check=True, capture_output=True, timeout=120)
        log = open(self.folder / "mariadbd.log", "w")
        self.proc = subprocess.Popen(["mariadbd", "--user=root", f"--datadir={data}", f"--socket={self.socket}",
                                      f"--port={self.port}", "--bind-address=127.0.0.1",
                                      f"--pid-file={self.folder / 'mariadbd.pid'}"], stdout=log, stderr=log)
        deadline = time.time() + timeout
        while self._sql("SELECT 1").returncode:
            if self.proc.poll() is not None or time.time() > deadline:
                raise MariaDBUnavailable((self.folder / "mariadbd.log").read_text()[-2000:])
            time.sleep(0.3)
        return self

    def database(self, name: str, user: str = "tune", password: str = "s3cret") -> str:
        """A fresh database with its own user; its SQLAlchemy URL (PyMySQL)."""
        created = self._sql(f"CREATE DATABASE {name}; CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY "
                            f"'{password}'; GRANT ALL ON {name}.* TO '{user}'@'127.0.0.1';")
        if created.returncode:
            raise MariaDBUnavailable(created.stderr)
        return f"mysql+pymysql://{user}:{password}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
