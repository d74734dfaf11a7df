"""The criteria language: trees of conditions over measured values, their windows and references.

Pure Python: nothing here imports Django or a model, so the language is
parsed, validated and evaluated without a database (tests/criteria checks
it). The gates give it its metrics (``gates.metrics``: each metric's
specification with a way to measure it) and load the reference data.

* ``tree``: parse a tree against metric specifications, evaluate it, the errors;
* ``windows``: which facts count by date;
* ``references``: the codes a tree names, resolved to ids;
* ``validation``: the checks of a parsed tree against the references.
"""
