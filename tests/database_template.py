"""Each test database on PostgreSQL is a copy of one migrated template, not a migration run of its own.

Migrating an empty database takes about a minute and a half of one core, and every
pytest-xdist worker of every pytest run needs a database of its own: the suite's
workers and the fuzzing run's would spend minutes migrating the same schema side
by side. Instead, the first worker to arrive builds ``test_<name>_tpl_<digest>``
by migrating it once, under a PostgreSQL advisory lock that the others wait on,
and every worker's database is then ``CREATE DATABASE … TEMPLATE`` of it, which
takes a second. The digest covers every migration file and the locked
dependencies (whose apps bring migrations too), so a changed migration builds a
new template and the stale ones are dropped.

``PRM_TEST_DATABASE_SUFFIX`` gives a second, concurrent pytest run databases of
its own beside the first's (the fuzzing run of ``make test``).

On SQLite (the default test run) nothing changes: each worker migrates its own
in-memory database, as Django does.
"""

import hashlib
import os
from pathlib import Path

from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# Any constant: the advisory lock that one builder at a time holds.
LOCK_KEY = 7_312_026


def applies() -> bool:
    return connection.vendor == "postgresql"


def template_name(base: str) -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    digest.update((ROOT / "requirements.lock").read_bytes())
    # PostgreSQL's names hold 63 bytes.
    return f"test_{base[:40]}_tpl_{digest.hexdigest()[:12]}"


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _set_name(name: str) -> None:
    from django.conf import settings

    connection.close()
    connection.settings_dict["NAME"] = name
    settings.DATABASES[connection.alias]["NAME"] = name


def _build(cursor, template: str) -> None:
    """Migrate a new database and rename it to ``template`` once it is whole."""
    building = f"{template}_wip"
    cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(building)} WITH (FORCE)")
    cursor.execute(f"CREATE DATABASE {_quoted(building)}")
    original = connection.settings_dict["NAME"]
    _set_name(building)
    try:
        call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
        call_command("createcachetable", verbosity=0)
    finally:
        _set_name(original)
    cursor.execute(f"ALTER DATABASE {_quoted(building)} RENAME TO {_quoted(template)}")


def clone_test_database() -> None:
    """Make this worker's test database a fresh copy of the template, building it if need be."""
    if not applies():
        return
    test = connection.settings_dict.setdefault("TEST", {})
    suffix = os.environ.get("PRM_TEST_DATABASE_SUFFIX", "")
    name = test.get("NAME") or f"test_{connection.settings_dict['NAME']}"
    if suffix and not name.endswith(f"_{suffix}"):
        name = f"{name}_{suffix}"
    test["NAME"] = name
    base = connection.settings_dict["NAME"]
    template = template_name(base)
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            if cursor.fetchone() is None:
                _build(cursor, template)
            cursor.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                [f"test\\_{base[:40]}\\_tpl\\_%", template],
            )
            for (stale,) in cursor.fetchall():
                cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(stale)} WITH (FORCE)")
            cursor.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {_quoted(name)} TEMPLATE {_quoted(template)}")
            # A test's commit need not wait for the disk (2.3 ms a commit here, 0.1 ms without):
            # the live server's and the transactional tests' writes commit thousands of times.
            cursor.execute(f"ALTER DATABASE {_quoted(name)} SET synchronous_commit = off")
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
