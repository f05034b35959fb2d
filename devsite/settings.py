"""Settings of the demo host project, read from the environment.

Every variable is documented in docs/configuration.md. With nothing set, the site runs on its
embedded defaults: a SQLite file under .run/dev/ and no external service configured.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """Return the variable, or ``default`` when it is unset or empty (empty counts as unset)."""
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


SECRET_KEY = env("DJANGO_SECRET_KEY", "django-insecure-devsite-only-never-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "experio_platform",
]

MIDDLEWARE = [
    # First, so load-balancer probes skip ALLOWED_HOSTS, SSL redirect, sessions and CSRF.
    "experio_platform.health.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "devsite.urls"
WSGI_APPLICATION = "devsite.wsgi.application"
ASGI_APPLICATION = "devsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]


def _database() -> dict[str, Any]:
    url = env("DATABASE_URL")
    if url:
        import dj_database_url

        return dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    if env("DB_NAME") or env("DB_HOST"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env("DB_NAME", "experio"),
            "USER": env("DB_USER", "postgres"),
            "PASSWORD": env("DB_PASSWORD", ""),
            "HOST": env("DB_HOST", "127.0.0.1"),
            "PORT": env("DB_PORT", "5432"),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {"connect_timeout": 5},
        }
    path = Path(env("SQLITE_PATH") or BASE_DIR / ".run" / "dev" / "db.sqlite3")
    path.parent.mkdir(parents=True, exist_ok=True)
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path)}


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / ".run" / "static"

REDIS_URL = env("REDIS_URL")
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# The settings-store keys fall back to these until seed_config/initdb writes their rows; after
# that the store (Postgres) is the source of truth and the environment reaches it only through
# seed_config / initdb.
_CONFIG_FROM_ENV = [
    "GRAPH_PROVIDER",
    "NEO4J_URI",
    "NEO4J_USER",
    "NEO4J_PASSWORD",
    "NEO4J_DATABASE",
    "FALKOR_URI",
    "FALKOR_PASSWORD",
    "FALKOR_GRAPH",
    "USE_AZURE_OPENAI",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_API_VERSION",
    "USE_GOOGLE_GENAI",
    "GOOGLE_API_KEY",
    "GOOGLE_GENAI_BASE_URL",
    "MCP_SERVER_URL",
]

EXPERIO_PLATFORM = {
    "CONFIG_OVERRIDES": {name: env(name) for name in _CONFIG_FROM_ENV if env(name) is not None},
    "HEALTH_TOKEN": env("EXPERIO_HEALTH_TOKEN"),
    "HEALTH_DISABLED_CHECKS": env_list("EXPERIO_HEALTH_DISABLE"),
    "ENCRYPTION_KEYS": env_list("EXPERIO_ENCRYPTION_KEYS"),
    "SCALER_BACKEND": env("EXPERIO_SCALER_BACKEND", "log"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "experio_platform": {"handlers": ["console"], "level": env("EXPERIO_LOG_LEVEL", "INFO")}
    },
}
