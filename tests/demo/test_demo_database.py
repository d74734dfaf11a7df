"""``make run`` serves the demo on SQLite: every migration must apply there, not only on PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_migration_applies_to_a_fresh_sqlite_database(tmp_path):
    environment = {
        **os.environ,
        "DEBUG": "True",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
    }
    environment.pop("CELERY_BROKER_URL", None)
    # The command is this interpreter running the project's manage.py, not outside input.
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "Applying gates.0013_gate_version_publishing... OK" in result.stdout
