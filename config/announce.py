"""How a lower app tells the apps above it that something happened, without importing them.

A lower app owns a Django signal and sends its event through `announce`; the pipeline app
connects the stages that react, in order, at start-up (pipeline/stages.py). A signal that
nothing listens to is a wiring mistake (the pipeline app missing from INSTALLED_APPS), not
a quiet night: `announce` refuses it instead of dropping the event.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal


def announce(signal: Signal, *, sender: type, **event: Any) -> None:
    if not signal.receivers:
        raise ImproperlyConfigured(
            "Nothing reacts to this write: add 'pipeline' to INSTALLED_APPS (it installs the stages that follow)."
        )
    # send, not send_robust: a stage that fails fails the write, as when it was called directly.
    signal.send(sender=sender, **event)
