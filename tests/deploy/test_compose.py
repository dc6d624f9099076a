"""docker-compose.yml cannot run here (no Docker engine): check its shape and that every command exists."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_sharing_one_configuration():
    services = load_compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("web", "worker", "beat", "migrate"):
        env = services[name]["environment"]
        assert env["DEBUG"] == "0"
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
        assert services[name]["build"] == "."


def test_every_service_command_exists_in_the_project():
    services = load_compose()["services"]
    assert (ROOT / "Dockerfile").exists()
    for name in ("web", "worker", "beat", "migrate"):
        command = services[name]["command"]
        program = command[0]
        if program == "daphne":
            module, attribute = command[-1].split(":")
            assert callable(getattr(importlib.import_module(module), attribute))
            assert (
                "--websocket_timeout" in command and command[command.index("--websocket_timeout") + 1] == "-1"
            )
        elif program == "celery":
            app = importlib.import_module(command[command.index("-A") + 1]).celery_app
            assert app.main == "csms"
            if "--scheduler" in command:
                module, attribute = command[command.index("--scheduler") + 1].split(":")
                assert getattr(importlib.import_module(module), attribute)
        elif program == "python":
            assert command[1] == "manage.py" and command[2] in get_commands()
        else:
            raise AssertionError(f"{name}: unexpected program {program}")
        assert shutil.which(program, path=str(Path(sys.executable).parent)), f"{program} is not installed"


def test_periodic_tasks_named_by_the_schedule_exist():
    from csms.celery import app

    app.loader.import_default_modules()
    for task in ("stations.tasks.station_mark_offline_overdue_task", "stations.tasks.frames_prune_task"):
        assert task in app.tasks
