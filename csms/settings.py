"""Settings for every environment, read from environment variables.

Defaults run the CSMS and its tests with no services at all: SQLite in the project folder and the
in-memory channel layer. Production sets DATABASE_URL (PostgreSQL), REDIS_URL and SECRET_KEY.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="dev-insecure-secret-key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "accounts",
    "stations",
    "billing",
    "energy",
    "stations.monitoring",
    "stations.alerts",
    "stations.diagnostics",
    "stations.firmware",
    "stations.configuration",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # daphne serves no static files itself
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "csms.urls"
ASGI_APPLICATION = "csms.asgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Explicit, so that processes started by the tests (daphne, celery) find the same test database;
# settable, so that test runs side by side do not share one.
TEST_DATABASE_NAME = env("TEST_DATABASE_NAME", default="test_csms")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The gateway, the worker and the simulator write at once: WAL plus IMMEDIATE transactions
    # make writers queue for the lock instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: live-server tests run daphne in another process on the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"{TEST_DATABASE_NAME}.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=300))
    # Parameters travel separately from the SQL: psycopg then need not quote them in Python, which
    # was a tenth of the gateway's CPU for meter values.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
    # No health check: it would cost a SELECT 1 per OCPP message. After a database restart the first
    # query on a dead connection fails, the charger gets an InternalError and retries.
    DATABASES["default"]["TEST"] = {"NAME": TEST_DATABASE_NAME}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # staff: username and password in the admin
    "allauth.account.auth_backends.AuthenticationBackend",  # drivers: email and password in the portal
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"

# Drivers sign up on the portal with django-allauth: email as login, verified before the first login.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True  # one address per driver: it is their login and how access groups know them
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[CSMS] "
# Links in mails are built from the request; behind a TLS proxy the request looks like plain http.
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"

# Mail (verification, password reset) goes to the console unless EMAIL_URL names a server:
# smtp+tls://user:password@host:587, smtp+ssl://user:password@host:465, filemail:///path/to/folder.
email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = email["EMAIL_BACKEND"]
EMAIL_HOST = email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = email.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = email["EMAIL_FILE_PATH"] or None
EMAIL_TIMEOUT = 10  # a slow mail server must not hold a signup request for minutes
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="CSMS <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where the portal is reached, for links in mail sent outside a request (payment confirmations).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# In development whitenoise serves straight from the apps' static folders; in production from
# STATIC_ROOT, filled by `collectstatic` (the Dockerfile runs it), with hashed, compressed names.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
if not DEBUG:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 times socket reads out after 5 s, which kills channels-redis's blocking
                # 5 s BZPOPMIN and with it every consumer (channels_redis#422): read timeout above it.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                "capacity": 1000,
                "expiry": 60,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # Shared by the gateway, the web processes and the workers: rate limits, mailed-once records, the
    # energy app's debounce keys and per-site locks.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # One process only: charger commands reach only sockets held by this process, and Celery runs its
    # tasks in the caller (see README, "Processes"). `make run` starts a private Redis-compatible server.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    # In this process. Django's default would cull a third of it past 300 entries, and with it per-site
    # locks of the energy app's debounce that must hold until released or expired.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}

# --- Payments (Stripe) ------------------------------------------------------------------------------
# Card payments switch on when STRIPE_SECRET_KEY is set; the portal's card form needs the publishable
# key too, and the webhook (/billing/stripe/webhook/) its signing secret. STRIPE_API_BASE points the
# stripe library elsewhere (the tests' local double); unset, it talks to api.stripe.com.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="") or "https://api.stripe.com"
# Where the portal's pages load Stripe.js from (the tests serve a stand-in from their double).
STRIPE_JS_URL = env("STRIPE_JS_URL", default="") or "https://js.stripe.com/v3/"
# Paying at a charger: the hold authorized before the session (in the tariff's currency), and how
# close the running cost may come to it before the charger is asked to stop the session.
CSMS_CARD_HOLD_AMOUNT = Decimal(env("CSMS_CARD_HOLD_AMOUNT", default="50"))
CSMS_CARD_HOLD_MARGIN = Decimal(env("CSMS_CARD_HOLD_MARGIN", default="1"))
# A session whose tariff has an idle fee is billed when the car is unplugged (the connector's
# Available), at the latest this long after its stop (a card paid at the charger: 30 minutes at most).
CSMS_IDLE_BILLING_WAIT_MIN = env.int("CSMS_IDLE_BILLING_WAIT_MIN", default=240)

# --- CSMS behaviour -------------------------------------------------------------------------------
# Unknown identities are refused unless this is on; then they are created Pending until accepted.
CSMS_AUTO_REGISTER = env.bool("CSMS_AUTO_REGISTER", default=False)
# Interval handed to chargers in BootNotification; offline after interval plus grace without a word.
CSMS_HEARTBEAT_INTERVAL_S = env.int("CSMS_HEARTBEAT_INTERVAL_S", default=300)
CSMS_HEARTBEAT_GRACE_S = env.int("CSMS_HEARTBEAT_GRACE_S", default=120)
# Frames older than this are pruned from the journal by a periodic job.
CSMS_JOURNAL_RETENTION_DAYS = env.int("CSMS_JOURNAL_RETENTION_DAYS", default=30)
# How long a CSMS-initiated call waits for the charger's answer.
CSMS_CALL_TIMEOUT_S = env.float("CSMS_CALL_TIMEOUT_S", default=30.0)
# Threads per gateway process for the database work of OCPP messages.
CSMS_GATEWAY_DB_THREADS = env.int("CSMS_GATEWAY_DB_THREADS", default=8)
# Group commit: how many batches of frames may be in the database at once (at most the threads
# above), and how many frames one batch (one transaction) takes at most.
CSMS_GATEWAY_BATCHES_IN_FLIGHT = env.int("CSMS_GATEWAY_BATCHES_IN_FLIGHT", default=2)
CSMS_GATEWAY_BATCH_SIZE = env.int("CSMS_GATEWAY_BATCH_SIZE", default=100)
# How long a charger's handshake may wait for a free slot before it is refused (it retries later).
CSMS_HANDSHAKE_WAIT_S = env.float("CSMS_HANDSHAKE_WAIT_S", default=3.0)  # under daphne's 5 s
# A live gateway acknowledges a call within milliseconds; silence this long means nobody holds the socket.
CSMS_CALL_ACK_TIMEOUT_S = env.float("CSMS_CALL_ACK_TIMEOUT_S", default=5.0)

if not DEBUG and SECRET_KEY == "dev-insecure-secret-key":
    raise ImproperlyConfigured("Set SECRET_KEY when DEBUG is off.")

# Logs chargers upload on request (GetDiagnostics, GetLog): kept outside any served directory.
CSMS_DIAGNOSTICS_DIR = env("CSMS_DIAGNOSTICS_DIR", default=str(BASE_DIR / "var" / "diagnostics"))
# The CSMS's address as chargers reach it over HTTP; the upload URL given to them starts with it.
CSMS_DIAGNOSTICS_UPLOAD_URL = env("CSMS_DIAGNOSTICS_UPLOAD_URL", default=SITE_URL)
CSMS_DIAGNOSTICS_MAX_BYTES = env.int("CSMS_DIAGNOSTICS_MAX_BYTES", default=50 * 1024 * 1024)
# How long an upload URL stays valid after the request.
CSMS_DIAGNOSTICS_VALID_H = env.float("CSMS_DIAGNOSTICS_VALID_H", default=24.0)

# --- Firmware -------------------------------------------------------------------------------------
# Uploaded firmware images (private: chargers fetch them through a per-update token only).
CSMS_FIRMWARE_ROOT = env("CSMS_FIRMWARE_ROOT", default=str(BASE_DIR / "var" / "firmware"))

# Alerts (stations.alerts): how notices go out (dotted paths of AlertChannel classes), whether a
# closing notice follows the opening one, and the detectors' thresholds.
CSMS_ALERT_CHANNELS = env.list("CSMS_ALERT_CHANNELS", default=["stations.alerts.channels.EmailChannel"])
CSMS_ALERT_NOTIFY_CLOSED = env.bool("CSMS_ALERT_NOTIFY_CLOSED", default=True)
CSMS_ALERT_OFFLINE_MIN = env.int("CSMS_ALERT_OFFLINE_MIN", default=30)
CSMS_ALERT_STUCK_SESSION_MIN = env.int("CSMS_ALERT_STUCK_SESSION_MIN", default=30)
CSMS_ALERT_BOOT_FAILURES = env.int("CSMS_ALERT_BOOT_FAILURES", default=3)  # within the window below
CSMS_ALERT_BOOT_WINDOW_MIN = env.int("CSMS_ALERT_BOOT_WINDOW_MIN", default=60)
CSMS_ALERT_RECONNECTS = env.int("CSMS_ALERT_RECONNECTS", default=5)  # more connections than this ...
CSMS_ALERT_RECONNECT_WINDOW_MIN = env.int("CSMS_ALERT_RECONNECT_WINDOW_MIN", default=15)  # ... in this
