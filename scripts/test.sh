#!/usr/bin/env bash
# Runs lint, the test suite and the examples' pipeline tests the way CI does. Extra arguments go to pytest.
#
# pytest's own exit code is the verdict, with two corrections:
#   - exit 5 (no tests collected) is a failure: a suite that runs nothing must not pass;
#   - a crash at interpreter exit (134/139, Temporal SDK issue #300) after a clean run is read from
#     the JUnit report: if it recorded no failures and no errors, the run passed.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
mkdir -p artifacts

echo "== ruff"
$VENV/bin/ruff check gleitzeit tests bench || exit 1
echo "== mypy"
$VENV/bin/mypy || exit 1

echo "== pytest"
$VENV/bin/python -m pytest -p no:cacheprovider --junitxml=artifacts/junit.xml -ra "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
if [ "$rc" = 134 ] || [ "$rc" = 139 ]; then
  if $VENV/bin/python - <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse("artifacts/junit.xml").getroot()
suites = [root] if root.tag == "testsuite" else list(root)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
ran = sum(int(s.get("tests", 0)) for s in suites)
sys.exit(0 if bad == 0 and ran > 0 else 1)
PY
  then
    echo "pytest crashed at interpreter exit (rc=$rc) after a clean run; the JUnit report shows no failures" >&2
    rc=0
  fi
fi
if [ "$rc" != 0 ]; then exit $rc; fi

# The example pipelines' own tests (examples/*.test.yaml), the way users run theirs. Any exit but 0
# fails the run (`gleitzeit test` leaves through os._exit, so the SDK's teardown crash cannot hit it).
echo "== gleitzeit test examples/"
$VENV/bin/gleitzeit test examples/ --junit artifacts/junit-examples.xml || exit 1
