"""Settings, read from environment variables.

Embedded default: SQLite (WAL) and the job queue on SQLite under ``SIYU_HOME`` (``./var``).
Production: ``DATABASE_URL`` (PostgreSQL, psycopg 3) and ``REDIS_URL`` (jobs on Redis).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent
SIYU_HOME = Path(os.environ.get("SIYU_HOME", Path.cwd() / "var")).resolve()


def _flag(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


DEBUG = _flag("SIYU_DEBUG")
# The embedded demo uses a fixed development key; production must set SIYU_SECRET_KEY.
SECRET_KEY = os.environ.get("SIYU_SECRET_KEY", "siyu-embedded-development-key-change-me-in-production")
# Key material for personal data at rest (see docs/adr/0005-personal-data-at-rest.md).
SIYU_DATA_KEY = os.environ.get("SIYU_DATA_KEY", SECRET_KEY)
ALLOWED_HOSTS = [h for h in os.environ.get("SIYU_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("SIYU_CSRF_TRUSTED_ORIGINS", "").split(",") if o]
# Where customers reach siyu from outside: the base of the scan URLs printed in QR codes (/c/<token>).
SIYU_PUBLIC_URL = os.environ.get("SIYU_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
SIYU_SMS = os.environ.get("SIYU_SMS", "sandbox")  # the SMS adapter (siyu.channels.sms); only the sandbox so far
# The engine segments run on (siyu.segments.engine): DuckDB embedded, or Spark (PySpark, the [spark] extra).
SIYU_ANALYTICS_ENGINE = os.environ.get("SIYU_ANALYTICS_ENGINE", "duckdb")
# incremental freshness of audiences (ADR 0016): "thread" (a background thread of the ingesting
# process), "inline" (on the ingesting thread, after the commit: tests) or "off"
SIYU_SEGMENTS_FRESH = os.environ.get("SIYU_SEGMENTS_FRESH", "thread")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "ninja",  # serves the API docs page (Swagger UI) from its own static files, no CDN
    "siyu.platform",
    "siyu.org",
    "siyu.members",
    "siyu.channels",
    "siyu.catalog",
    "siyu.inventory",
    "siyu.orders",
    "siyu.events",
    "siyu.segments",
    "siyu.tasks",
    "siyu.incentives",
    "siyu.contests",  # PK contests and the performance feed (helper-contests)
    "siyu.learning",  # knowledge base, quizzes, knowledge contests (helper-contests)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "siyu.orders.views_mall.ReferralMiddleware",  # remembers the share link (?c=) a mall visitor came with
]

ROOT_URLCONF = "siyu.urls"
WSGI_APPLICATION = "siyu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "siyu.platform.context.siyu_context",
            ],
        },
    }
]

# --- Database --------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    SIYU_HOME.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SIYU_SQLITE_PATH", str(SIYU_HOME / "siyu.sqlite3")),
            # Kept a minute per thread, as on PostgreSQL: opening one (and its PRAGMAs, journal_mode
            # among them) for every request cost ~3 ms of CPU, more than a 1,000-event batch's insert.
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "org.Staff"
AUTHENTICATION_BACKENDS = ["siyu.org.auth.PhoneOrUsernameBackend"]
LOGIN_URL = "hq:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
SESSION_COOKIE_HTTPONLY = True

# --- i18n ------------------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("SIYU_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("SIYU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static ----------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = SIYU_HOME / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
MEDIA_ROOT = SIYU_HOME / "media"
# Uploaded files (product images). The app serves them itself (platform.views.media, for the
# embedded default and the demo); in production the reverse proxy serves MEDIA_ROOT at MEDIA_URL.
MEDIA_URL = "/media/"

# --- Cache -----------------------------------------------------------------------------------
# In each server process's memory. The store mall keeps pieces of its pages here (a store's part,
# product lists, frames: catalog.storefront); 5,000 entries hold a few hundred stores' pages
# (~30 MB at most), beyond which the least recently used quarter is dropped.
CACHES = {
    "default": {
        "BACKEND": "siyu.platform.cache.ObjectCache",  # LocMemCache without pickling: never change a value read
        "LOCATION": "siyu",
        "OPTIONS": {"MAX_ENTRIES": 5_000, "CULL_FREQUENCY": 4},
    }
}

# --- Jobs (Huey) -----------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": os.environ.get("SIYU_JOBS_NAME", "siyu"),
        "url": REDIS_URL,
        "immediate": False,
        "utc": True,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": os.environ.get("SIYU_JOBS_NAME", "siyu"),
        "filename": os.environ.get("SIYU_JOBS_PATH", str(SIYU_HOME / "jobs.sqlite3")),
        "immediate": False,
        "utc": True,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# --- API -------------------------------------------------------------------------------------
NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("SIYU_LOG_LEVEL", "WARNING")},
    # The worker logs through this handler once (Huey adds its own only to a logger without one).
    "loggers": {"huey": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
