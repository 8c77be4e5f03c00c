"""Run a real ``reviewer serve`` process on 127.0.0.1 for the service tests and the load benchmark.

The process's stdout and stderr go to a file (``logs()``), so tests can check what
the service logged. ``stop()`` always ends it (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any REVIEWER_* setting, plus ``extra``; never the local model."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REVIEWER_")}
    env["REVIEWER_LOCAL_DEFAULT"] = "false"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class ServiceProcess:
    """``python -m reviewer serve --host HOST --port <free> *args`` with ``env``; use as a context manager."""

    def __init__(
        self,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        command: Sequence[str] = (sys.executable, "-m", "reviewer"),
    ) -> None:
        self.port = free_port()
        self.command = list(command)
        self.args = ["--host", host, "--port", str(self.port), *args]
        self.env = clean_env(env)
        self._log = Path(tempfile.mkstemp(prefix="reviewer-serve-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        with self._log.open("wb") as sink:
            self.process = subprocess.Popen(
                [*self.command, "serve", *self.args],
                env=self.env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() can end the workers too
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"reviewer serve exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"reviewer serve did not answer within {STARTUP_TIMEOUT_S}s:\n{self.logs()}")

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL; then make sure no worker of its process group is left."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def logs(self) -> str:
        return self._log.read_text(encoding="utf-8", errors="replace")

    def barrier(self, timeout_s: float = 10.0) -> str:
        """Send one more request and wait until its access line is written; then every earlier line is too.

        (The service writes logs from a queue on a thread, so a line can trail its response a little.)
        """
        marker = f"barrier-{time.monotonic_ns()}"
        httpx.get(f"{self.url}/healthz", headers={"X-Request-ID": marker}, timeout=10.0)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = self.logs()
            if f'"{marker}"' in text:
                return text
            time.sleep(0.02)
        raise AssertionError(f"the access line of {marker} was not written within {timeout_s}s")

    def cleanup(self) -> None:
        self.stop()
        self._log.unlink(missing_ok=True)

    def __enter__(self) -> ServiceProcess:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
