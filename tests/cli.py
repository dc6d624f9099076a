"""Running management commands in tests: their output, or the error they end with."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command


def command_output(name: str, *args: str) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def command_error(name: str, *args: str) -> CommandError:
    with pytest.raises(CommandError) as failure:
        command_output(name, *args)
    return failure.value
