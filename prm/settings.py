"""Settings for the PRM, read from the environment (12-factor).

Every value has a safe default for the demo: a SQLite file, no broker (Celery
runs tasks in-process) and the console email backend. Production sets
``DATABASE_URL``, ``CELERY_BROKER_URL``, ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

import datetime
from pathlib import Path

import dj_database_url
import pghistory
import pgtrigger
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from prm.env import env_bool, env_header, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-debug"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_countries",
    "django_htmx",
    "axes",
    "core",
    "events",
    "pgtrigger",
    "pghistory",
    "history",
    "accounts",
    "csp",
    "partners",
    "programs",
    "enablement",
    "gates",
    "deals",
    "incentives",
    "webhooks",
    "inbox",
    "analytics",
    "onboarding",
    "portal",
    "api",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # After the CSRF check, so that a forged post is refused as such first.
    "prm.middleware.RefuseUnstorableParametersMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After authentication: records who writes, and through which door.
    "history.middleware.HistoryMiddleware",
    # Writes the API throttles' RateLimit-* figures on every response they counted.
    "api.ratelimit.RateLimitHeadersMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "prm.urls"

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
                "portal.context_processors.inbox",
            ],
        },
    },
]

WSGI_APPLICATION = "prm.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several threads (the live server of the browser tests, a runserver
    # request next to an in-process task) write to one file: wait instead of
    # failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20}
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out client before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Object permissions are only ever granted to real users.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sign-in protection -------------------------------------------------------
# Reverse proxies in front of the application that append the client's address
# to X-Forwarded-For. 0: the peer is the client and the header, which anyone can
# send, is ignored. Every per-address limit below reads the address this way.
PRM_TRUSTED_PROXY_COUNT = env_int("PRM_TRUSTED_PROXY_COUNT", 0, minimum=0)
# Failed logins (portal and admin) before signing in is paused: per account from
# any address, and per address on any accounts (higher: an office shares one).
PRM_LOGIN_FAILURES_PER_ACCOUNT = env_int("PRM_LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
PRM_LOGIN_FAILURES_PER_ADDRESS = env_int("PRM_LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
PRM_LOGIN_COOLOFF_MINUTES = env_int("PRM_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
PRM_PASSWORD_RESET_RATE_PER_ADDRESS = env_rate("PRM_PASSWORD_RESET_RATE_PER_ADDRESS", "10/hour")
PRM_PASSWORD_RESET_RATE_PER_EMAIL = env_rate("PRM_PASSWORD_RESET_RATE_PER_EMAIL", "3/hour")
# Applications to become a partner sent from one address (the public page) before it answers 429.
PRM_APPLICATION_RATE_PER_ADDRESS = env_rate("PRM_APPLICATION_RATE_PER_ADDRESS", "5/hour")
# Requests with a wrong integration token, per address, before every token
# request from it answers 429 (a right token too, so that guessing learns nothing).
PRM_API_TOKEN_FAILURE_RATE = env_rate("PRM_API_TOKEN_FAILURE_RATE", "10/min")

AXES_HANDLER = "accounts.lockout.SignInAttemptHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = PRM_LOGIN_FAILURES_PER_ACCOUNT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=PRM_LOGIN_COOLOFF_MINUTES)
# A pause ends a fixed time after the failures that caused it: attempts during
# it are refused without being counted, so the page can say when to come back.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "accounts.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Failures are kept (and expire after the cool-off); successful logins are not logged.
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/portal/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
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
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
# Uploaded proofs of performance and similar files: a hard ceiling per file.
PRM_MAX_UPLOAD_BYTES = env_int("PRM_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
# Files of the content library (decks, campaign kits) are larger: their own ceiling.
PRM_MAX_LIBRARY_UPLOAD_BYTES = env_int("PRM_MAX_LIBRARY_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "PRM <prm@example.com>")

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}
        if env_str("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- HTTPS ------------------------------------------------------------------------
# With DEBUG off the application expects HTTPS: plain HTTP is redirected, browsers
# are told to keep to HTTPS (HSTS) and cookies travel only over TLS. A run on
# plain HTTP without TLS turns these off explicitly (see the README).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers and docker-compose probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Entering the browsers' preload list is hard to undo: only on request.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # Django warns that the site cannot be preloaded; not preloading is the chosen default.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind a proxy that terminates TLS: the header it sets to "https" on secure
# requests (e.g. X-Forwarded-Proto). Trusted only when named, since a client can
# send the header itself wherever no proxy overwrites it.
SECURE_PROXY_SSL_HEADER = env_header("SECURE_PROXY_SSL_HEADER", "https")

# --- Content-Security-Policy ---------------------------------------------------------
# Every script and style sheet is served from this site (htmx and the API docs'
# Swagger UI are vendored). Inline code is refused unless it carries the
# response's nonce; images may also be data: URIs (the admin's and Swagger UI's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
if CELERY_BROKER_URL and not env_str("REDIS_URL"):
    # Workers and web processes coordinate through the cache (the debounce of
    # re-evaluations, the generation of cached definitions, throttles): each
    # process's own memory would silently keep them apart.
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL is set but REDIS_URL is not: the web processes and the workers need a shared "
        "cache. Set REDIS_URL to a Redis database of its own, e.g. redis://127.0.0.1:6379/1."
    )
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
# No broker: run every task in-process, at once (the demo, the unit tests).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]

# The nightly re-evaluation of every active gate for every partner.
PRM_NIGHTLY_EVALUATION_HOUR = env_int("PRM_NIGHTLY_EVALUATION_HOUR", 2)
PRM_NIGHTLY_EVALUATION_MINUTE = env_int("PRM_NIGHTLY_EVALUATION_MINUTE", 30)
CELERY_BEAT_SCHEDULE = {
    "evaluate-all-gates-nightly": {
        "task": "gates.tasks.evaluate_all_gates",
        "schedule": crontab(hour=PRM_NIGHTLY_EVALUATION_HOUR, minute=PRM_NIGHTLY_EVALUATION_MINUTE),
    },
    # Approved deal registrations whose protection has ended expire, shortly after midnight.
    "expire-deal-registrations-nightly": {
        "task": "deals.tasks.expire_deal_registrations",
        "schedule": crontab(hour=0, minute=15),
    },
    # Incentives: close ended quarters, forfeit overdue held payouts, settle the current quarter.
    "incentives-daily": {
        "task": "incentives.tasks.incentives_daily_task",
        "schedule": crontab(hour=1, minute=30),
    },
    # Webhooks: events not yet fanned out (a crash after commit), retries due, deliveries
    # whose worker died mid-way.
    "webhooks-sweep": {
        "task": "webhooks.tasks.sweep_deliveries",
        "schedule": env_int("PRM_WEBHOOKS_SWEEP_SECONDS", 30, minimum=1),
    },
    # The inbox: MDF claims due, certifications expiring within 60 days, announcements whose
    # time came; then each user's digest of the unread items they asked to receive daily.
    "inbox-daily-items": {
        "task": "inbox.tasks.inbox_daily",
        "schedule": crontab(hour=6, minute=0),
    },
    "inbox-digest-daily": {
        "task": "inbox.tasks.send_digests",
        "schedule": crontab(hour=7, minute=0),
    },
    # The outbox: events past the retention that nothing still needs are deleted, nightly.
    "outbox-purge-nightly": {
        "task": "events.tasks.purge_outbox",
        "schedule": crontab(hour=3, minute=45),
    },
    # Idempotency keys past PRM_IDEMPOTENCY_KEY_HOURS are forgotten, hourly.
    "idempotency-keys-purge-hourly": {
        "task": "api.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=20),
    },
}
# Days the outbox keeps an event (and the webhooks its delivery log); undelivered ones stay.
PRM_OUTBOX_RETENTION_DAYS = env_int("PRM_OUTBOX_RETENTION_DAYS", 90, minimum=1)

# --- Webhooks -------------------------------------------------------------------
# Deliver to URLs resolving to loopback, private, link-local or metadata addresses (tests, a
# receiver on the same host); never in production.
PRM_WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("PRM_WEBHOOKS_ALLOW_PRIVATE_URLS", False)
# Seconds to connect, and to wait for each read of the answer.
PRM_WEBHOOKS_CONNECT_TIMEOUT = env_int("PRM_WEBHOOKS_CONNECT_TIMEOUT", 3, minimum=1)
PRM_WEBHOOKS_READ_TIMEOUT = env_int("PRM_WEBHOOKS_READ_TIMEOUT", 10, minimum=1)
# Hours both the old and the new signing secret sign after a rotation.
PRM_WEBHOOKS_SECRET_OVERLAP_HOURS = env_int("PRM_WEBHOOKS_SECRET_OVERLAP_HOURS", 24, minimum=0)
# Deliveries that exhausted their retries in a row before a subscription is disabled.
PRM_WEBHOOKS_DISABLE_AFTER_FAILURES = env_int("PRM_WEBHOOKS_DISABLE_AFTER_FAILURES", 5, minimum=1)

# --- The product --------------------------------------------------------------
# Exchange rates are stored as the value of one unit of a currency in this one.
PRM_REFERENCE_CURRENCY = env_str("PRM_REFERENCE_CURRENCY", "USD")
# Partners evaluated per chunk by the set-based gate evaluation.
PRM_EVALUATION_CHUNK_SIZE = env_int("PRM_EVALUATION_CHUNK_SIZE", 5000)
# Seconds to wait after a fact arrives before re-evaluating its partner, so that
# a burst of facts causes one evaluation (the facts of the next second join the
# first). Short, so that a fact shows in the partner's status within seconds
# (bench.latency measures it); docker-compose.yml and the README say the same.
PRM_FACT_DEBOUNCE_SECONDS = env_int("PRM_FACT_DEBOUNCE_SECONDS", 1)
# Seconds between the re-evaluation of a partner on new facts and its at-risk
# forecast, so that a burst of re-evaluations is forecast once.
PRM_FORECAST_DEBOUNCE_SECONDS = env_int("PRM_FORECAST_DEBOUNCE_SECONDS", 10)
# Seconds to wait after a definition (gate, segment, tier, rate...) changes before
# re-evaluating every partner, so that a burst of edits causes one run.
PRM_DEFINITION_DEBOUNCE_SECONDS = env_int("PRM_DEFINITION_DEBOUNCE_SECONDS", 10)
# Minutes without progress after which an evaluation still marked running is
# taken for one whose worker died (the next full run marks it stale).
PRM_EVALUATION_STALE_MINUTES = env_int("PRM_EVALUATION_STALE_MINUTES", 30)
# Days an approved deal registration is protected before it expires.
PRM_DEAL_PROTECTION_DAYS = env_int("PRM_DEAL_PROTECTION_DAYS", 90)
# Days after a quarter ends before its incentives close (late facts still land in it).
PRM_INCENTIVES_CLOSE_DELAY_DAYS = env_int("PRM_INCENTIVES_CLOSE_DELAY_DAYS", 5)

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an unauthenticated call then answers 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.IntegrationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ApiAccess"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "api.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "api.filtering.StrictFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.TokenRateThrottle",
        "api.throttling.SessionUserRateThrottle",
        "api.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": env_str("PRM_API_TOKEN_RATE", "600/min"),
        "user": env_str("PRM_API_USER_RATE", "1200/min"),
        "anon": env_str("PRM_API_ANON_RATE", "60/min"),
    },
    "EXCEPTION_HANDLER": "api.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "api.schema.PRMAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Largest JSON body the API reads (a batch of 5,000 facts is about 1.5 MB).
PRM_API_MAX_BODY_BYTES = env_int("PRM_API_MAX_BODY_BYTES", DATA_UPLOAD_MAX_MEMORY_SIZE)
# Records per ingestion batch.
PRM_INGESTION_MAX_ROWS = env_int("PRM_INGESTION_MAX_ROWS", 5000)
# Hours an Idempotency-Key is remembered: the same POST sent again within them acts once.
PRM_IDEMPOTENCY_KEY_HOURS = env_int("PRM_IDEMPOTENCY_KEY_HOURS", 24, minimum=1)

SPECTACULAR_SETTINGS = {
    "TITLE": "PRM API",
    "DESCRIPTION": "Partners, facts, programs, acceleration gates, deals and incentives.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from the public online validator: the docs load nothing from elsewhere.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.postprocess_request_rules",
        "api.schema.postprocess_criteria_schema",
        "api.schema.postprocess_rate_limit_headers",
        "api.schema.postprocess_links",
    ],
    # The events subscribers receive (OpenAPI 3.1 ``webhooks``), one per type of
    # events.catalogue (tests/webhooks checks that the two lists agree).
    "WEBHOOKS": [
        "webhooks.schemas.gate_passed",
        "webhooks.schemas.gate_failed",
        "webhooks.schemas.gate_at_risk",
        "webhooks.schemas.gate_recovered",
        "webhooks.schemas.tier_changed",
        "webhooks.schemas.tier_grace_started",
        "webhooks.schemas.tier_grace_ended",
        "webhooks.schemas.deal_submitted",
        "webhooks.schemas.deal_approved",
        "webhooks.schemas.deal_rejected",
        "webhooks.schemas.deal_won",
        "webhooks.schemas.deal_expired",
        "webhooks.schemas.mdf_requested",
        "webhooks.schemas.mdf_approved",
        "webhooks.schemas.mdf_rejected",
        "webhooks.schemas.mdf_claimed",
        "webhooks.schemas.mdf_paid",
        "webhooks.schemas.ledger_entry_created",
        "webhooks.schemas.statement_closed",
        "webhooks.schemas.partner_created",
        "webhooks.schemas.partner_status_changed",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CurrencyEnum": "core.money.CURRENCY_CHOICES",
        "RatedCurrencyEnum": "core.money.RATED_CURRENCY_CHOICES",
        "LifecycleStatusEnum": "partners.models.LifecycleStatus",
        "GateOutcomeEnum": "gates.models.GateOutcome",
        "SalesRoleEnum": "deals.models.SalesRole",
        "BenefitKindEnum": "programs.models.BenefitKind",
        "TokenScopeEnum": "api.models.TokenScope",
        "MembershipRoleEnum": "partners.models.MembershipRole",
        "PartnerRoleEnum": "partners.members.PARTNER_ROLE_CHOICES",
        "ReplayPeriodEnum": "gates.models.ReplayRun.Period",
        "ReplayStateEnum": "gates.models.ReplayRun.State",
        "VersionStateEnum": "programs.models.VersionState",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- History ----------------------------------------------------------------------
# Events are stamped with the time of the change, not of its transaction's
# start (NOW()): the changes of one transaction then read in the order made.
PGHISTORY_CREATED_AT_FUNCTION = "CLOCK_TIMESTAMP()"
# One trigger call per statement, reading its rows from the transition table:
# a bulk write of 5,000 rows records them with one INSERT ... SELECT instead of
# 5,000 calls (bench/ingest measures the difference).
PGHISTORY_LEVEL = pgtrigger.Statement  # type: ignore[has-type]  # a constant the stubs do not type
# The copies of foreign keys in event tables are not indexed: the history is
# read by object (pgh_obj) and context, which keep theirs; every other index
# would slow each recorded write for lookups nobody makes.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
PGHISTORY_OBJ_FIELD = pghistory.ObjForeignKey(db_index=True)
PGHISTORY_CONTEXT_FIELD = pghistory.ContextForeignKey(db_index=True)
