"""Start and stop a real `vigil serve` on loopback (OPERATIONS.md: `--http 127.0.0.1:0` picks a
port and prints the bound address: `vigil listening on http://…`)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

_LISTEN = re.compile(r"vigil listening on (https?://\S+)")


class VigilServer:
    def __init__(self, binary: str | os.PathLike, admin_token: str = "admin-secret-token",
                 data_dir: str | None = None, extra_args: list[str] | None = None):
        self.binary = str(binary)
        self.admin_token = admin_token
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="vigil-py-")
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.base_url: str | None = None
        self.stdout_path = Path(self.data_dir) / "stdout.log"
        self.stderr_path = Path(self.data_dir) / "stderr.log"

    def start(self, timeout: float = 60.0) -> "VigilServer":
        if not os.path.exists(self.binary):
            raise FileNotFoundError(f"vigil binary not found at {self.binary} (set VIGIL_BIN)")
        # Every flag is also an environment variable: do not let the caller's VIGIL_* leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
        env.setdefault("RUST_LOG", "info")
        args = [self.binary, "serve", "--data-dir", self.data_dir, "--http", "127.0.0.1:0",
                "--udp", "127.0.0.1:0", "--admin-token", self.admin_token, *self.extra_args]
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._out, stderr=self._err, cwd=self.data_dir,
                                     env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text(errors="replace")
            m = _LISTEN.search(text)
            if m:
                self.base_url = m.group(1).rstrip("/")
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("vigil did not start:\n" + self.stdout_path.read_text(errors="replace")
                           + self.stderr_path.read_text(errors="replace")[-4000:])

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f:
                f.close()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, n: int = 4000) -> str:
        return self.stderr_path.read_text(errors="replace")[-n:]
