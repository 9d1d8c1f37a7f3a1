"""Settings, all read from the environment (twelve-factor, via django-environ).

With nothing set, the project runs as an embedded demo: SQLite in the project folder and
Celery tasks executed in-process. Set DATABASE_URL and REDIS_URL for the real deployment
shape: PostgreSQL, Redis as broker and cache, and separate worker and beat processes.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# A missing key is only tolerable on a developer's machine: production must set one.
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
else:
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "accounts",
    "customers",
    "journeys",
    "interactions",
    "memory",
    "outcomes",
    "integrations",
    "dashboards",
    "playbooks",
    "customer_pages",
    "pipeline",
    "demo",
    "audit",
    "health_check",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.RefuseNulCharacters",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it sees the outcome of every login attempt.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Brute-force protection: 5 failed logins for one username from one address lock that
# pair out for 15 minutes (django-axes); a successful login resets the count.
# Content-Security-Policy (django-csp): every script, style, image and font comes from this
# site; no inline script, no eval, no frames, forms post only here.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Permissions-Policy (django-permissions-policy): no page here needs a browser feature.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "fullscreen",
    )
}

# Who may read /health/'s details besides signed-in staff (monitoring systems): a secret.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out"  # 429 with Retry-After
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0)

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
                "playbooks.context_processors.my_work",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Short indexed queries only: PostgreSQL's JIT compiler spent 70 ms compiling plans
    # for dashboard queries that run in a few (profiled at 5M touchpoints).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rememberly",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Small tables read by every write are kept per process only when the cache that says
# they changed is shared by every process (config/kept.py): not in the embedded demo, where
# a management command run beside the server would not reach its memory.
KEEP_SMALL_TABLES = bool(REDIS_URL)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# htmx's script ships with the django-htmx package (static/django_htmx/): no Node.js.
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development the web process serves static files straight from the app folders.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Security: strict by default whenever DEBUG is off; a TLS-terminating proxy is assumed.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.auth.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["integrations.auth.ScopedAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["integrations.auth.PerClientThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "client": env.str("API_RATE_LIMIT", default="6000/min"),
        "failed_auth": env.str("API_FAILED_AUTH_RATE", default="30/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.rest.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.rest.errors.json_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "config.rest.pagination.ById",
}
# A bulk request of 1,000 touchpoints with long summaries fits; anything larger is a 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=8 * 1024 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "Rememberly API",
    "DESCRIPTION": (
        "Push customer touchpoints from other systems and read what each customer will remember. "
        "Authenticate with `Authorization: Api-Key <key>` (or `Token <key>`); keys are scoped "
        "push, read or full. Errors are JSON objects naming each field and the reason."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The contract is readable with any valid key or a signed-in session, not anonymously.
    "SERVE_PERMISSIONS": ["integrations.auth.ScopedAccess"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Two fields are called "kind": a customer's (business or person) and an outcome's.
    "ENUM_NAME_OVERRIDES": {
        "KindEnum": "customers.models.CustomerKind",
        "OutcomeKindEnum": "outcomes.models.OutcomeKind",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.schema.document_errors",
    ],
}
# CSV imports: the largest file the upload page takes, and the most rows in one file.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=100_000)
WEBHOOK_TIMEOUT_SECONDS = env.int("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Webhooks go to public addresses only; an on-premises installation whose receivers are on
# the internal network allows private and loopback addresses (never link-local/metadata).
WEBHOOK_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOK_ALLOW_PRIVATE_NETWORKS", default=False)

# --- E-mail (playbooks' tasks, escalations, the managers' digest) ----------------------------
# Without EMAIL_HOST a development or demo run (DEBUG) writes each message to a file in
# sent-mail/ instead of sending it; production sends through EMAIL_HOST (localhost:25 when
# unset; docs/operations.md). A failed send is kept on the task and retried, never lost.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
EMAIL_HOST = env.str("EMAIL_HOST", default="")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Rememberly <rememberly@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST or not DEBUG
    else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_HOST = EMAIL_HOST or "localhost"
EMAIL_FILE_PATH = BASE_DIR / "sent-mail"

# --- Celery -------------------------------------------------------------------------------
# Without a broker the demo runs every task in-process, right after the commit that queued
# it; with REDIS_URL the same code goes through Redis to a real worker.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# Embedded mode: webhook deliveries run on a background thread, never inside the request
# (the test suite turns this off to deliver inline and deterministically).
EMBEDDED_BACKGROUND_THREADS = env.bool("EMBEDDED_BACKGROUND_THREADS", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
# A task taken by a worker that dies without acknowledging it goes back to the queue once
# it has been out this many seconds (longer than any task runs: CELERY_TASK_TIME_LIMIT);
# workers look for such tasks every 10 s (kombu's default looks every 100 s). A publish
# to an unreachable broker gives up after 5 s, and the sweeper re-queues the work.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=600),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": 5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Under a stream of writes the memory drain starts at most this often, and the playbooks'
# evaluation too: each run takes everything that arrived meanwhile (config/tasking.gather).
# The first after a quiet spell starts at once.
MEMORY_GATHER_SECONDS = env.float("MEMORY_GATHER_SECONDS", default=0.2)
PLAYBOOKS_GATHER_SECONDS = env.float("PLAYBOOKS_GATHER_SECONDS", default=1.0)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "memory-sweep-stale": {
        "task": "memory.tasks.sweep_stale_memories",
        "schedule": timedelta(seconds=env.int("MEMORY_SWEEP_SECONDS", default=60)),
    },
    "webhooks-unrecovered-complaints": {
        "task": "integrations.tasks.notify_unrecovered_complaints",
        "schedule": timedelta(minutes=15),
    },
    "webhooks-resend-stranded": {
        "task": "integrations.tasks.resend_stranded_deliveries",
        "schedule": timedelta(minutes=5),
    },
    "dashboards-warm-cache": {
        "task": "dashboards.tasks.warm_dashboard_cache",
        "schedule": timedelta(seconds=90),  # inside the 120 s the totals stay cached
    },
    "playbooks-evaluate": {
        "task": "playbooks.tasks.evaluate_all_playbooks",
        "schedule": timedelta(seconds=env.int("PLAYBOOKS_EVALUATE_SECONDS", default=300)),
    },
    "playbooks-follow-up": {
        "task": "playbooks.tasks.follow_up_tasks",
        "schedule": timedelta(minutes=5),
    },
    "playbooks-manager-digest": {
        "task": "playbooks.tasks.send_manager_digests",
        "schedule": crontab(hour=7, minute=0),
    },
    "memory-nightly-refresh": {
        "task": "memory.tasks.refresh_all_memories",
        "schedule": crontab(hour=2, minute=15),
    },
}

# --- Journeys -----------------------------------------------------------------------------
# A customer who has been silent this long starts a new episode with the next touchpoint.
JOURNEY_QUIET_GAP = timedelta(days=env.int("JOURNEY_QUIET_GAP_DAYS", default=45))
# An automatic episode never spans more than this: a relationship touched every few weeks
# would otherwise be one endless journey, and its months of small touches one memory.
JOURNEY_MAX_SPAN = timedelta(days=env.int("JOURNEY_MAX_SPAN_DAYS", default=90))

# --- Memory model -------------------------------------------------------------------------
# Every parameter of the memory model; docs/memory-score.md gives the source of each.
MEMORY_MODEL = {
    "loss_aversion": env.float("MEMORY_LOSS_AVERSION", default=2.25),
    "peak_end_weight": env.float("MEMORY_PEAK_END_WEIGHT", default=0.5),
    "half_life_days": env.float("MEMORY_HALF_LIFE_DAYS", default=90.0),
    "repeat_failure_weight": env.float("MEMORY_REPEAT_FAILURE_WEIGHT", default=0.5),
    "repeat_failure_cap": env.float("MEMORY_REPEAT_FAILURE_CAP", default=2.0),
    "recovery_softening": env.float("MEMORY_RECOVERY_SOFTENING", default=0.5),
    "recovery_half_life_days": env.float("MEMORY_RECOVERY_HALF_LIFE_DAYS", default=30.0),
    "first_contact_quality": env.float("MEMORY_FIRST_CONTACT_QUALITY", default=0.75),
    "paradox_window_days": env.float("MEMORY_PARADOX_WINDOW_DAYS", default=365.0),
    "paradox_max_severity": env.float("MEMORY_PARADOX_MAX_SEVERITY", default=0.5),
    "paradox_min_recovery": env.float("MEMORY_PARADOX_MIN_RECOVERY", default=0.6),
    "paradox_max_delay_days": env.float("MEMORY_PARADOX_MAX_DELAY_DAYS", default=7.0),
    "paradox_bonus": env.float("MEMORY_PARADOX_BONUS", default=0.2),
    "display_scale": env.float("MEMORY_DISPLAY_SCALE", default=1.0),
    "display_slope": env.float("MEMORY_DISPLAY_SLOPE", default=1.25),
    "at_risk_below": env.float("MEMORY_AT_RISK_BELOW", default=35.0),
    "good_above": env.float("MEMORY_GOOD_ABOVE", default=65.0),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
