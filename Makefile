# The two commands a new user needs: `make demo` and `make test`.
.PHONY: setup demo test test-unit test-integration bench clean-demo

setup:
	bash scripts/setup.sh

demo: setup
	CIRN_HOME=$${CIRN_HOME:-$(CURDIR)/.cirn} .venv/bin/cirn demo

test: setup
	bash scripts/test.sh

test-unit:
	.venv/bin/pytest tests/unit -q

test-integration:
	.venv/bin/pytest tests/integration -q

clean-demo:
	rm -rf .cirn
