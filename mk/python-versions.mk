# The Python suite on every other CPython >= 3.8 that pyenv has, each in its
# own venv under build/venv/ (tools/test-python-versions; reused on reruns),
# and the attach tests against the newest httpx, httpcore, anyio, urllib3 and
# requests from PyPI, so that an upstream change to the private attributes
# attach() reads fails here.  Fails when no other CPython is found.
test-python-versions:
	PYTHON=$(or $(PYTHON),python3) bash tools/test-python-versions versions

test-python-newest:
	PYTHON=$(or $(PYTHON),python3) bash tools/test-python-versions newest

TEST_TARGETS += test-python-versions test-python-newest
.PHONY: test-python-versions test-python-newest
