"""Shared fixtures: service availability, live daphne processes and a real OCPP client."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper

from stations.services import bulk
from tests.ocpp_client import OcppClient

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
(ROOT / "var").mkdir(exist_ok=True)


PEERS = ROOT / "tests" / "peers"


# pytest-xdist's worker (gw0, gw1, …) running this process; empty without xdist.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def redis_test_url() -> str:
    """CSMS_TEST_REDIS_URL, one database down per xdist worker (15, 14, …): the tests flush theirs."""
    url = os.environ.get("CSMS_TEST_REDIS_URL", "")
    if not url or not XDIST_WORKER:
        return url
    parts = urlsplit(url)
    database = (int(parts.path.strip("/") or 0) - int(XDIST_WORKER.removeprefix("gw"))) % 16
    return urlunsplit(parts._replace(path=f"/{database}"))


def var_log(kind: str, name: str) -> Path:
    """Where a process the tests start logs: var/test-<kind>-<name>[-<xdist worker>].log."""
    return ROOT / "var" / f"test-{kind}-{name}{'-' + XDIST_WORKER if XDIST_WORKER else ''}.log"


def missing_services() -> dict[str, str]:
    """Marker name -> why its service is not available here (absent: available)."""
    missing = {}
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        missing["postgres"] = "PostgreSQL: set DATABASE_URL=postgres://…"
    url = redis_test_url()
    if not url:
        missing["redis"] = "Redis: set CSMS_TEST_REDIS_URL=redis://… (a database the tests may flush)"
    else:
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.RedisError as error:
            missing["redis"] = f"Redis at {url} does not answer: {error}"
    if shutil.which("node") is None or not (PEERS / "node_modules" / "ocpp-rpc").is_dir():
        missing["peers"] = "node and tests/peers/node_modules (make test installs them when npm is present)"
    from importlib.util import find_spec

    if not os.access("/usr/bin/chromium", os.X_OK) or find_spec("playwright") is None:
        missing["browser"] = "Chromium at /usr/bin/chromium (apt-get install chromium) and playwright (pip)"
    return missing


def pytest_configure(config: pytest.Config) -> None:
    # Thread-pool threads of in-process consumer tests would otherwise keep connections open, and the
    # test database could not be dropped at the end.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Locally, tests whose service is missing are skipped with the reason; in CI that is a failure."""
    missing = missing_services()
    if IN_CI and missing:
        raise pytest.UsageError("CI needs every service: " + "; ".join(missing.values()))
    for item in items:
        for marker, reason in missing.items():
            if item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skipif(True, reason=reason))


def test_database_url() -> str:
    """The URL of the test database, for processes the tests start."""
    from django.db import connection

    params = connection.settings_dict
    if params["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{params['NAME']}"
    user = quote(params["USER"] or "")
    password = f":{quote(params['PASSWORD'])}" if params["PASSWORD"] else ""
    host = params["HOST"] or "localhost"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{params['NAME']}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CSMS_AUTO_REGISTER")}
    env.update(DATABASE_URL=test_database_url(), DJANGO_SETTINGS_MODULE="csms.settings", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def process_stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a process the tests started to end, and kill it if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


class LiveGateway:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.process, self.log = port, process, log
        self.url = f"ws://127.0.0.1:{port}/ocpp"

    def client(
        self,
        identity: str,
        password: str | None,
        subprotocols: tuple[str, ...] = ("ocpp1.6",),
        **kwargs: object,
    ) -> OcppClient:
        return OcppClient(
            f"{self.url}/{identity}",
            identity=identity,
            password=password,
            subprotocols=subprotocols,
            **kwargs,
        )

    def stop(self) -> None:
        process_stop(self.process)


class CeleryWorker:
    """A real Celery worker (solo pool) on the test database, logging to var/test-celery-<name>.log."""

    def __init__(self, name: str, **env: str) -> None:
        self.log = var_log("celery", name)
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "celery", "-A", "csms", "worker", "-P", "solo", "-l", "INFO"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            cwd=ROOT,
            env=child_env(**env),
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> bool:
        """Whether it has started consuming tasks (its log says "ready")."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited:\n{self.log.read_text()[-3000:]}")
        return b" ready." in self.log.read_bytes()

    def stop(self) -> None:
        process_stop(self.process)


@contextmanager
def celery_worker(name: str, **env: str) -> Iterator[CeleryWorker]:
    worker = CeleryWorker(name, **env)
    try:
        yield worker
    finally:
        worker.stop()


def start_daphne(name: str, **env: str) -> LiveGateway:
    port = free_port()
    log = var_log("daphne", name)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "--websocket_timeout",
            "-1",
            "csms.asgi:application",
        ],
        cwd=ROOT,
        env=child_env(**env),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process)
    except Exception:
        process.kill()
        raise RuntimeError(f"daphne did not start:\n{log.read_text()[-3000:]}") from None
    return LiveGateway(port, process, log)


# Daphne processes kept running for later tests, the least recently used stopped first: each holds up to
# CSMS_GATEWAY_DB_THREADS database connections, and PostgreSQL allows 100 to every worker together.
LIVE_GATEWAYS_KEPT = 4


@pytest.fixture(scope="session")
def gateways(django_db_setup: None, django_db_blocker: object) -> Iterator[Callable[..., LiveGateway]]:
    """Start daphne processes on the test database, one per distinct environment, for the session."""
    started: dict[tuple[tuple[str, str], ...], LiveGateway] = {}

    def get(name: str = "main", **env: str) -> LiveGateway:
        key = (("name", name), *sorted(env.items()))
        if key not in started or started[key].process.poll() is not None:
            started[key] = start_daphne(name, **env)
        started[key] = started.pop(key)  # the most recently used last
        while len(started) > LIVE_GATEWAYS_KEPT:
            started.pop(next(iter(started))).stop()
        return started[key]

    yield get
    for gateway in started.values():
        gateway.stop()
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        wait_for_other_sessions_to_end()


def other_sessions(connection: BaseDatabaseWrapper, *, busy_only: bool = False) -> int:
    """How many other connections to the test database PostgreSQL has; with `busy_only`, only those
    running a statement or inside a transaction."""
    busy = " AND state IN ('active', 'idle in transaction')" if busy_only else ""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            f" WHERE datname = current_database() AND pid <> pg_backend_pid(){busy}"
        )
        return cursor.fetchone()[0]


def wait_for_other_sessions_to_end(timeout: float = 5.0) -> None:
    """Let PostgreSQL notice the stopped processes' connections, so the test database can be dropped;
    then end those left, which this process's own worker threads (sync_to_async) keep open idle."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while other_sessions(connection) and time.monotonic() < deadline:
        time.sleep(0.1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def gateways_settle(timeout: float = 10.0) -> None:
    """Wait until no live gateway is inside a transaction, twice in a row 50 ms apart.

    A test can end while a gateway still stores what the charger sent last or its disconnect; the flush
    after a transactional test then truncates the tables under it, and the two deadlock."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        quiet = 0 if other_sessions(connection, busy_only=True) else quiet + 1
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _gateways_settle(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a database test that used live gateways, let them finish before the database is emptied.

    Set up after pytest-django's own autouse database fixture, so it is torn down before the flush."""
    yield
    if "gateways" in request.fixturenames and request.node.get_closest_marker("django_db"):
        gateways_settle()


@pytest.fixture
def gateway(gateways: Callable[..., LiveGateway]) -> LiveGateway:
    return gateways()


@pytest.fixture
def periodic_jobs(db: None) -> None:
    """The beat jobs the data migrations create (stations/periodic_jobs.py), created again: another test
    file's transactional tests, run earlier in this worker, empty every table."""
    from django.apps import apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations import RunPython

    for migration in MigrationLoader(connection).graph.nodes.values():
        for operation in migration.operations:
            if isinstance(operation, RunPython) and operation.code.__qualname__.startswith(
                "periodic_jobs_create."
            ):
                operation.code(apps, None)


@pytest.fixture(autouse=True)
def _forget_staging_tables() -> Iterator[None]:
    """A test rolls its transaction back even when it ran the on_commit callbacks
    (django_capture_on_commit_callbacks(execute=True)); the gateway's memo of the temporary staging
    tables its connection has committed (stations/services/bulk.py) must not outlive such a test."""
    yield
    bulk._staging_tables.clear()
