"""The criteria language imports neither Django nor a model: it runs, and is tested, without a database."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_criteria_language_imports_no_django_and_no_app():
    # A fresh interpreter: this test process has long imported Django.
    program = (
        "import sys, criteria.tree, criteria.windows, criteria.references, criteria.validation, criteria.schema\n"
        "apps = ('django', 'core', 'prm', 'partners', 'programs', 'gates', 'deals', 'incentives')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in apps))\n"
    )
    loaded = subprocess.run(  # noqa: S603 - a fixed program, run by this interpreter
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
