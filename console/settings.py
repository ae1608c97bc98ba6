"""Django settings for Ferry. Everything a deployment changes comes from the
environment (see the README's configuration table), read strictly by
``console.env``: a malformed value stops start-up with a message naming it.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from console import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.string("FERRY_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated into var/ on first run."""
    configured = env.string("SECRET_KEY")
    if configured:
        return configured
    path = VAR_DIR / "secret_key"
    try:
        # O_EXCL: web, worker and beat may start together; exactly one writes.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


def _fernet_keys(secret_key: str) -> list[str]:
    """Keys for tokens at rest: FERRY_ENCRYPTION_KEY (newest first, comma-separated,
    older ones still decrypt) or one derived from SECRET_KEY."""
    configured = env.string_list("FERRY_ENCRYPTION_KEY", [])
    for key in configured:
        try:
            if len(base64.urlsafe_b64decode(key.encode())) != 32:
                raise ValueError
        except ValueError:
            raise env.ConfigurationError(
                "FERRY_ENCRYPTION_KEY must be a comma-separated list of Fernet keys "
                "(32 bytes, URL-safe base64; make one with "
                '`python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"`).'
            ) from None
    if configured:
        return configured
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"ferry token encryption"
    ).derive(secret_key.encode())
    return [base64.urlsafe_b64encode(derived).decode()]


SECRET_KEY = _secret_key()
FERRY_ENCRYPTION_KEYS = _fernet_keys(SECRET_KEY)
DEBUG = env.boolean("DEBUG", False)
ALLOWED_HOSTS = env.string_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "console",
    "mappings",
    "delivery",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "console.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "console.middleware.OrganizationMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"

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
                "delivery.health.banner",
            ],
        },
    },
]

_DATABASE_SCHEMES = {
    "sqlite": "SQLite file",
    "postgres": "PostgreSQL",
    "postgresql": "PostgreSQL",
}
DATABASE_URL = env.url(
    "DATABASE_URL", f"sqlite:///{VAR_DIR / 'ferry.sqlite3'}", schemes=_DATABASE_SCHEMES
)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock up front instead of failing mid-transaction.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_CACHE_SCHEMES = {"file": "a folder", "redis": "Redis", "rediss": "Redis over TLS", "locmem": ""}
CACHE_URL = env.url("CACHE_URL", f"file://{VAR_DIR / 'cache'}", schemes=_CACHE_SCHEMES)
if CACHE_URL.startswith("file://"):
    _cache = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": CACHE_URL.removeprefix("file://"),
    }
elif CACHE_URL.startswith("locmem://"):
    _cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
else:
    _cache = {"BACKEND": "console.cache.ReusingRedisCache", "LOCATION": CACHE_URL}
CACHES = {"default": _cache}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Served over TLS (directly or behind a proxy that sets X-Forwarded-Proto): cookies
# go only over HTTPS and browsers are told to stay on it. On unless DEBUG; `make run`
# turns it off because it serves plain HTTP on 127.0.0.1.
FERRY_HTTPS = env.boolean("FERRY_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = FERRY_HTTPS
CSRF_COOKIE_SECURE = FERRY_HTTPS
SECURE_SSL_REDIRECT = FERRY_HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if FERRY_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = FERRY_HTTPS
# Joining browsers' preload list binds the whole domain to HTTPS for good: the
# domain's owner opts in; until then `check --deploy` need not ask.
SECURE_HSTS_PRELOAD = env.boolean("FERRY_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if FERRY_HTTPS else None
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

INTERCOM_CLIENT_ID = env.string("INTERCOM_CLIENT_ID")
INTERCOM_CLIENT_SECRET = env.string("INTERCOM_CLIENT_SECRET")
# When set, connecting a workspace, its API calls and Ferry's outbound requests go to the
# Intercom sandbox (`manage.py intercom_sandbox`) at this URL instead of Intercom. For
# trying Ferry and for tests; never in production. `make run` sets it unless
# INTERCOM_CLIENT_ID is given.
INTERCOM_SANDBOX_URL = env.url(
    "INTERCOM_SANDBOX_URL", "", schemes={"http": "HTTP", "https": "HTTPS"}, optional=True
).rstrip("/")

_BROKER_SCHEMES = {
    "filesystem": "kombu's filesystem transport, no server",
    "redis": "Redis",
    "rediss": "Redis over TLS",
    "amqp": "RabbitMQ",
    "pyamqp": "RabbitMQ",
    "memory": "in-process, for tests",
}
CELERY_BROKER_URL = env.url("CELERY_BROKER_URL", "filesystem://", schemes=_BROKER_SCHEMES)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Delivery waits on Intercom and the database, not the CPU: threads overlap those waits.
CELERY_WORKER_POOL = env.choice("CELERY_WORKER_POOL", "THREADS", ("THREADS", "PREFORK")).lower()
CELERY_WORKER_CONCURRENCY = env.integer("CELERY_WORKER_CONCURRENCY", 8, minimum=1)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "console.tasks.record_worker_heartbeat", "schedule": 15.0},
    "deliveries-sweep": {"task": "delivery.tasks.sweep", "schedule": 5.0},
    "retention": {"task": "delivery.tasks.apply_retention", "schedule": 24 * 60 * 60.0},
    "destinations-health": {"task": "delivery.tasks.check_health", "schedule": 60.0},
}

# Delivery: retries give up only once both the time and the attempt budget are spent.
FERRY_RETRY_HOURS = env.integer("FERRY_RETRY_HOURS", 4, minimum=0)
FERRY_RETRY_MIN_ATTEMPTS = env.integer("FERRY_RETRY_MIN_ATTEMPTS", 8, minimum=1)
FERRY_CONTACT_WAIT_MINUTES = env.integer("FERRY_CONTACT_WAIT_MINUTES", 30, minimum=0)
FERRY_LEASE_SECONDS = env.integer("FERRY_LEASE_SECONDS", 120, minimum=15)
FERRY_RETENTION_BODY_DAYS = env.integer("FERRY_RETENTION_BODY_DAYS", 7, minimum=1)
FERRY_RETENTION_DAYS = env.integer("FERRY_RETENTION_DAYS", 30, minimum=1)

# Health: a destination is failing when fewer than this share of its real deliveries
# finished in the last hour were delivered, once at least the minimum have finished.
FERRY_HEALTH_THRESHOLD = env.number("FERRY_HEALTH_THRESHOLD", 0.9, minimum=0.0, maximum=1.0)
FERRY_HEALTH_MIN_DELIVERIES = env.integer("FERRY_HEALTH_MIN_DELIVERIES", 20, minimum=1)

# Email, for telling the admins when a destination's health changes. Configured when a
# server (EMAIL_URL, or EMAIL_HOST and friends) and at least one admin are given;
# otherwise no mail is attempted.
_EMAIL_SCHEMES = {"smtp": "SMTP", "smtp+tls": "SMTP with STARTTLS", "smtps": "SMTP over TLS"}
EMAIL_URL = env.url("EMAIL_URL", "", schemes=_EMAIL_SCHEMES, optional=True)
if EMAIL_URL and env.string("EMAIL_HOST"):
    raise env.ConfigurationError("EMAIL_URL and EMAIL_HOST are both set; set only one of them.")
if EMAIL_URL:
    _email = urlsplit(EMAIL_URL)
    if not _email.hostname:
        raise env.ConfigurationError(f"EMAIL_URL names no host: {EMAIL_URL!r}.")
    EMAIL_HOST = _email.hostname
    try:
        EMAIL_PORT = _email.port or {"smtp": 25, "smtp+tls": 587, "smtps": 465}[_email.scheme]
    except ValueError:
        raise env.ConfigurationError("EMAIL_URL has a malformed port.") from None
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_TLS = _email.scheme == "smtp+tls"
    EMAIL_USE_SSL = _email.scheme == "smtps"
else:
    EMAIL_HOST = env.string("EMAIL_HOST")
    EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env.string("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "ferry@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_SUBJECT_PREFIX = "[Ferry] "
EMAIL_TIMEOUT = 10
_admin_emails = env.string_list("FERRY_ADMIN_EMAILS", [])
for _address in _admin_emails:
    if "@" not in _address or " " in _address:
        raise env.ConfigurationError(
            f"FERRY_ADMIN_EMAILS must be comma-separated email addresses; {_address!r} is not one."
        )
ADMINS = [(_address, _address) for _address in _admin_emails]

# How `manage.py serve` (what `make run` starts) listens and how many web processes it runs.
FERRY_BIND = env.string("FERRY_BIND", "127.0.0.1:8000")
WEB_CONCURRENCY = env.integer("WEB_CONCURRENCY", 2, minimum=1)

LOG_FORMAT = env.choice("LOG_FORMAT", "PLAIN", ("PLAIN", "JSON")).lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "console.logformat.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {
        "handlers": ["console"],
        "level": env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
    },
}
