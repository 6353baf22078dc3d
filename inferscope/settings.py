"""The only settings module. Everything that differs between installs comes from
the environment; with nothing set, Inferscope runs on one machine with SQLite and
an embedded (filesystem) Celery broker under DATA_DIR."""

import os
import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from inferscope.lib.env import env_bool, env_float, env_int, env_list, env_secret, env_str
from inferscope.lib.paths import data_dir

# Templates and static files live inside the package, so that the wheel carries them.
PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = data_dir()
# It holds the SQLite file (sessions included) and the secret key: owner only.
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)


def _secret_key() -> str:
    key = env_secret("SECRET_KEY")
    if key:
        return key
    # Embedded mode: a key generated once and kept beside the SQLite file, so
    # sessions survive restarts without anyone having to set one.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        # Written whole under a private name, then linked into place: a process
        # starting at the same moment sees either no key or the full one.
        draft = DATA_DIR / f".secret_key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(50))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process won; both use its key
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Links in alerts; unset, it follows the port `inferscope web` listens on.
SITE_URL = env_str("SITE_URL", f"http://localhost:{env_int('PORT', 8000, minimum=1)}")

# Alert email goes through Django's SMTP backend; with no EMAIL_HOST, to the log.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT == 587)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "inferscope@localhost")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
# Slack and webhook URLs may not point at private, loopback or link-local
# addresses (probing the internal network) unless this is on.
ALERTS_ALLOW_PRIVATE_ADDRESSES = env_bool("ALERTS_ALLOW_PRIVATE_ADDRESSES", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "inferscope",
    "collectors",
    "costs",
    "anomaly",
    "alerts",
    "profiling",
    "recommendations",
    "telemetry",
    "economics",
    "api",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view is marked login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "inferscope.urls"
WSGI_APPLICATION = "inferscope.wsgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's templates, before the apps', so they can override the admin's.
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "collectors.context_processors.simulated",
            ],
        },
    },
]

DATABASE_URL = env_secret("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "inferscope.sqlite3"),
            # web, worker and beat write at once: WAL lets readers go on, and an
            # IMMEDIATE transaction waits for the write lock instead of failing.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    # plotly.js from the plotly package: charts draw with no internet.
    "dashboard.staticfiles.PlotlyFinder",
]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Tests and `runserver` find files in the app folders without collectstatic.
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Requests one API token may make, e.g. 600/min (s, min, hour or day).
API_TOKEN_RATE = env_str("API_TOKEN_RATE", "600/min")
if not re.fullmatch(r"[1-9][0-9]{0,8}/(s|sec|m|min|h|hour|d|day)", API_TOKEN_RATE):
    raise ImproperlyConfigured(
        f"API_TOKEN_RATE={API_TOKEN_RATE!r}: expected a rate such as 600/min"
    )
# The token rate limit counts in the cache: per process by default; with several web
# processes, CACHE_URL (redis://…) makes it one count for all.
CACHE_URL = env_secret("CACHE_URL")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": API_TOKEN_RATE},
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "inferscope.lib.drf.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # `?format=csv` is the report's own parameter, not a renderer override.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# /api/schema/ and /api/docs/ (api/docs_urls.py); the security schemes come from
# the authentication extensions in api/schema.py.
SPECTACULAR_SETTINGS = {
    "TITLE": "Inferscope API",
    "DESCRIPTION": (
        "Cost and performance observability for LLM serving on GPUs. Authenticate with "
        "`Authorization: Bearer isk_…` (a personal API token) or a browser session; "
        "agents post to /api/v1/ingest with their own token. Errors are "
        '{"detail": str, "errors": [{"field", "message"}]}.'
    ),
    "VERSION": "1.0.0",
    # Not public: the schema needs a login or a token like every page.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc from the sidecar package's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several apps have a `status`: each choice set gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "profiling.choices.JobStatus",
        "PointStatusEnum": "profiling.choices.PointStatus",
        "RecommendationStatusEnum": "recommendations.choices.RecommendationStatus",
        "DeliveryStatusEnum": "alerts.choices.DeliveryStatus",
        "AnomalyStatusEnum": "anomaly.choices.AnomalyStatus",
        "SeverityEnum": "anomaly.choices.Severity",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.error_responses",
    ],
}

# Ingest limits: a compressed body is checked against the same byte limit once
# inflated, so a small gzip bomb cannot fill memory.
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 16 * 1024 * 1024, minimum=1024)
INGEST_MAX_SAMPLES = env_int("INGEST_MAX_SAMPLES", 10_000, minimum=1)
INGEST_MAX_FUTURE_SECONDS = env_int("INGEST_MAX_FUTURE_SECONDS", 300, minimum=0)
INGEST_BATCH_RETENTION_DAYS = env_int("INGEST_BATCH_RETENTION_DAYS", 14, minimum=1)

# Retention: raw samples for two weeks, 1-minute rollups for 90 days; hourly and
# daily rollups and cost records are kept for good.
RAW_SAMPLE_RETENTION_DAYS = env_int("RAW_SAMPLE_RETENTION_DAYS", 14, minimum=1)
MINUTE_ROLLUP_RETENTION_DAYS = env_int("MINUTE_ROLLUP_RETENTION_DAYS", 90, minimum=1)
ALERT_RETENTION_DAYS = env_int("ALERT_RETENTION_DAYS", 180, minimum=1)
# Grid carbon intensity for gCO2e per 1M tokens; unset means "not shown".
COST_GRID_GCO2_PER_KWH = env_float("COST_GRID_GCO2_PER_KWH", None)
# Data-centre overhead applied to measured GPU energy in energy and carbon figures.
COST_PUE = env_float("COST_PUE", 1.0, minimum=1.0)
# Where a server reports no phase timings, a generated token is costed as this
# many prompt tokens (hosted APIs price output 3-5x input; decode is memory-bound).
COST_DECODE_TOKEN_WEIGHT = env_float("COST_DECODE_TOKEN_WEIGHT", 4.0, minimum=0.0)


# Celery reads every CELERY_* setting below (namespace="CELERY").
_BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
    _DEFAULT_RESULTS = f"file://{DATA_DIR / 'results'}"
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "results").mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
    _DEFAULT_RESULTS = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
CELERY_RESULT_BACKEND = env_secret("CELERY_RESULT_BACKEND") or _DEFAULT_RESULTS or None
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30 if CELERY_TASK_TIME_LIMIT > 60 else None
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Alert work has its own queue (and worker, `inferscope alerts-worker`), so a long
# rollup or training run cannot hold an alert back; the main worker serves it too.
CELERY_TASK_ROUTES = {"alerts.*": {"queue": "alerts"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # A line per task received, run and sent; inferscope.lib.tasklog logs the
        # tasks that did something instead. Warnings and errors still show.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

# The beat schedule is data in inferscope/schedule.py.
from inferscope.schedule import beat_schedule  # noqa: E402

CELERY_BEAT_SCHEDULE = beat_schedule()
