"""Real server processes for end-to-end tests."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def provision_shared_keys(env: dict[str, str], data_dir: Path) -> None:
    """A shared database (PostgreSQL) needs its data keys provided (the server refuses to generate
    a per-host key file): write the key file an operator would distribute, unless keys are given.
    One key per database (derived from its URL), as every host of one deployment gets the same file:
    a later server on the same database, e.g. another test module's, reads what earlier ones wrote."""
    import hashlib

    from kycguard.security.crypto import DEFAULT_KEY_FILE, write_key_file

    url = env.get("KYCGUARD_DATABASE_URL", "")
    path = data_dir / DEFAULT_KEY_FILE
    given = "KYCGUARD_DATA_KEYS" in env or "KYCGUARD_SECURITY__DATA_KEY_FILE" in env
    if url and not url.startswith("sqlite") and not given and not path.exists():
        write_key_file(path, {"dkshared": hashlib.sha256(url.encode()).digest()}, "dkshared")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``kycguard serve`` in its own process, as a user runs it (``args``: e.g. ``["--workers", "2"]``)."""

    def __init__(self, env: dict[str, str], data_dir: Path, args: Sequence[str] = ()) -> None:
        import subprocess
        import sys

        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log = data_dir / "server.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("KYCGUARD_")}
        full_env |= {"KYCGUARD_DATA_DIR": str(data_dir), "KYCGUARD_PORT": str(self.port)} | env
        provision_shared_keys(full_env, data_dir)
        self.env = full_env
        self._keys: dict[tuple[str, str | None], str] = {}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kycguard.cli", "serve", *args],
            env=full_env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready after {timeout}s:\n{self.log.read_text()[-3000:]}")

    def key(self, role: str = "integrator", tenant: str | None = "tests") -> str:
        """An API key of ``role``, made once with ``kycguard keys create`` on this server's database."""
        import json
        import subprocess
        import sys

        if (role, tenant) not in self._keys:
            cmd = [sys.executable, "-m", "kycguard.cli", "keys", "create", "--role", role]
            cmd += ["--name", f"tests {role} {tenant}", "--json"]
            cmd += ["--tenant", tenant] if tenant else []
            done = subprocess.run(cmd, env=self.env, capture_output=True, timeout=120)
            if done.returncode != 0:
                raise RuntimeError(f"keys create failed: {done.stderr.decode()[-2000:]}")
            self._keys[(role, tenant)] = json.loads(done.stdout)["key"]
        return self._keys[(role, tenant)]

    def headers(self, role: str = "integrator", tenant: str | None = "tests") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role, tenant)}"}

    def worker_pids(self) -> list[int]:
        """The serving processes: uvicorn's worker children with ``--workers``, else the server."""
        import psutil

        children = psutil.Process(self.process.pid).children()
        workers = [c.pid for c in children if "spawn_main" in " ".join(c.cmdline())]
        return workers or [self.process.pid]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:
            self.process.kill()
