"""Environment defaults for the test suite, loaded as a pytest plugin (-p) before Django starts.

Defaults for a developer machine and CI; an explicit environment wins. Redis db 15 keeps
test traffic away from a demo running on db 0. Set at import time, before Django loads.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rememberly")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("EMBEDDED_BACKGROUND_THREADS", "0")
