"""Django's Redis cache, with its client objects kept instead of made for every call.

Django's RedisCacheClient builds a new `redis.Redis` for every cache operation, and
redis-py's constructor fills a table of about 170 response callbacks each time: 4% of
the profiled time of a touchpoint POST, which makes several cache calls (the failed-key
check, the rate limit, the coalescing mark). The client holds no connection of its own
(the pool does) and is safe to share; Django already keeps one cache object per thread.
"""

from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _OneClientPerPool(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # One for writes (the first server) and one for reads: with replicas listed in
        # the location, a thread keeps reading from the one it first picked.
        client = self._clients.get(write)
        if client is None:
            client = self._clients[write] = super().get_client(key, write=write)
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _OneClientPerPool
