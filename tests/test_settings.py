import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from prm.env import env_bool, env_int, env_list, env_rate, env_str


def test_env_bool_accepts_only_clear_values(monkeypatch):
    monkeypatch.setenv("FLAG", "True")
    assert env_bool("FLAG", default=False) is True
    monkeypatch.setenv("FLAG", "false")
    assert env_bool("FLAG", default=True) is False
    monkeypatch.setenv("FLAG", "flase")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be True or False"):
        env_bool("FLAG", default=False)


def test_env_bool_default_when_unset(monkeypatch):
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", default=True) is True


def test_env_int_rejects_words(monkeypatch):
    monkeypatch.setenv("COUNT", "many")
    with pytest.raises(ImproperlyConfigured, match="COUNT must be an integer"):
        env_int("COUNT", 1)


def test_env_int_refuses_values_below_its_minimum(monkeypatch):
    monkeypatch.setenv("COOLOFF", "0")
    with pytest.raises(ImproperlyConfigured, match="COOLOFF must be at least 1, not 0"):
        env_int("COOLOFF", 15, minimum=1)


def test_env_rate_reads_events_per_period(monkeypatch):
    monkeypatch.delenv("RATE", raising=False)
    assert env_rate("RATE", "3/hour") == (3, 3600)
    monkeypatch.setenv("RATE", "10/min")
    assert env_rate("RATE", "3/hour") == (10, 60)
    for wrong in ("10 per minute", "0/min", "-1/min", "10/fortnight", "ten/min"):
        monkeypatch.setenv("RATE", wrong)
        with pytest.raises(ImproperlyConfigured, match="RATE: expected a rate such as 10/min"):
            env_rate("RATE", "3/hour")


def test_secret_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("TOKEN_FILE", str(secret))
    assert env_str("TOKEN") == "s3cret"


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("HOSTS", "a.example.com, b.example.com,")
    assert env_list("HOSTS", []) == ["a.example.com", "b.example.com"]


def test_settings_refuse_to_start_without_secret_key_in_production():
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "False", "DJANGO_SETTINGS_MODULE": "prm.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def _start(**environment):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "prm.settings", "DEBUG": "True", **environment}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.CACHES['default']['BACKEND'])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_broker_without_a_shared_cache_refuses_to_start():
    """Each process's local memory would keep the debounce marks and cached definitions apart."""
    result = _start(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert result.returncode != 0
    assert "ImproperlyConfigured: CELERY_BROKER_URL is set but REDIS_URL is not" in result.stderr


def test_a_broker_with_a_shared_cache_uses_redis_for_the_cache():
    result = _start(CELERY_BROKER_URL="redis://127.0.0.1:6379/0", REDIS_URL="redis://127.0.0.1:6379/1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.cache.backends.redis.RedisCache"


def test_without_a_broker_the_local_memory_cache_is_enough():
    result = _start()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.cache.backends.locmem.LocMemCache"


def test_tasks_run_eagerly_without_a_broker(settings):
    if settings.CELERY_BROKER_URL:
        pytest.skip("a broker is configured for this run; eager mode applies only without one")
    assert settings.CELERY_TASK_ALWAYS_EAGER is True


# --- production-shaped settings ----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = {
    "PATH": "/usr/bin:/bin",
    "DJANGO_SETTINGS_MODULE": "prm.settings",
    "SECRET_KEY": "x7Kq!pV2#zR9@mL4$wT6^bN8&cJ1*hF3(dG5)sA0-eY_uI+oP=",
    "ALLOWED_HOSTS": "prm.example.com",
}
SECURITY_SETTINGS = [
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
]


def _run(args: list[str], **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, *args], env={**PRODUCTION, **environment}, cwd=ROOT, capture_output=True, text=True
    )


def _security_settings(**environment: str) -> dict:
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {SECURITY_SETTINGS!r}}}))"
    )
    result = _run(["-c", script], **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_with_the_production_defaults():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"])
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr + result.stdout


def test_https_is_on_by_default_when_debug_is_off():
    assert _security_settings() == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": False,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        # No proxy header is trusted unless one is named.
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_https_is_off_in_the_demo():
    values = _security_settings(DEBUG="True")
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False


def test_plain_http_and_a_tls_proxy_are_settings():
    plain = _security_settings(
        SECURE_SSL_REDIRECT="False",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="False",
        CSRF_COOKIE_SECURE="False",
    )
    assert (plain["SECURE_SSL_REDIRECT"], plain["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert (plain["SESSION_COOKIE_SECURE"], plain["CSRF_COOKIE_SECURE"]) == (False, False)
    proxied = _security_settings(SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SECURE_SSL_REDIRECT", "sometimes", "SECURE_SSL_REDIRECT must be True or False"),
        ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS must be an integer"),
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto: https", "SECURE_PROXY_SSL_HEADER must name a header"),
    ],
)
def test_security_settings_refuse_what_they_do_not_understand(name, value, message):
    result = _run(["-c", "import django; django.setup()"], **{name: value})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.django_db
def test_pages_are_sent_a_content_security_policy(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"


@pytest.mark.django_db
def test_plain_http_is_redirected_except_the_health_check(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    page = client.get("/accounts/login/")
    assert page.status_code == 301 and page["Location"] == "https://testserver/accounts/login/"
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_hsts_is_sent_on_secure_requests(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/healthz", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_fact_debounce_is_the_same_in_settings_docker_compose_and_the_readme():
    """What an installation gets by default, whichever way it is started or read about."""
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.PRM_FACT_DEBOUNCE_SECONDS)",
        ],
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "prm.settings", "DEBUG": "True"},
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    default = result.stdout.strip().splitlines()[-1]
    compose = (root / "docker-compose.yml").read_text()
    readme = (root / "README.md").read_text()
    assert f"PRM_FACT_DEBOUNCE_SECONDS: ${{PRM_FACT_DEBOUNCE_SECONDS:-{default}}}" in compose
    assert f"| `PRM_FACT_DEBOUNCE_SECONDS` | `{default}` |" in readme
