# The two commands of the README: `make demo` runs the seed example, `make test` runs the tests.
PYTHON ?= python3

.PHONY: demo test test-slow test-ci-slow lint bench setup

setup:
	./scripts/setup

demo: setup
	./examples/seed/demo

test: setup
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

# The long fault-injection runs (pytest's addopts leave them out of `make test`): kill -9 at 100 moments.
test-slow: setup
	$(PYTHON) -m pytest -q -p no:cacheprovider -m slow tests

# The slow tests CI runs beyond `make test` (a few minutes each): slipway's own image in an unprivileged docker,
# BuildKit's git query-string test (about 40 builds).
CI_SLOW_TESTS = tests/integration/test_in_container.py tests/buildkit/test_dockerfile_addgit.py

test-ci-slow: setup
	$(PYTHON) -m pytest -q -p no:cacheprovider -m slow $(CI_SLOW_TESTS)

lint:
	$(PYTHON) -m ruff check src tests benchmarks
	$(PYTHON) -m ruff format --check src tests benchmarks
	$(PYTHON) -m mypy

bench: setup
	./benchmarks/run
