"""Look into the real Redis broker's default queue."""

from typing import Any, cast

from config.celery import app as celery_app

QUEUE = "celery"


def queued_messages() -> int:
    with celery_app.connection_for_write() as connection:
        channel = cast(Any, connection.default_channel)
        return int(channel.queue_declare(QUEUE, passive=False).message_count)


def purge_queue() -> None:
    with celery_app.connection_for_write() as connection:
        cast(Any, connection.default_channel).queue_purge(QUEUE)
