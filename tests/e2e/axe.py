"""axe-core (vendored from npm, tests/e2e/vendor) run in the page; violations of critical or serious impact."""

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"


def serious_violations(page, selector: str = "body") -> list[str]:
    # Evaluated through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE.read_text())
    result = page.evaluate("(s) => axe.run(document.querySelector(s))", selector)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in {"critical", "serious"}
    ]
