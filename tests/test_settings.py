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
    import subprocess
    import sys

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


def test_tasks_run_eagerly_without_a_broker(settings):
    if settings.CELERY_BROKER_URL:
        pytest.skip("a broker is configured for this run; eager mode applies only without one")
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
