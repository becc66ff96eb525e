# The two commands of the README: `make run` (set up + the nightly job) and `make test`.
.PHONY: run test setup lint bench

run:
	scripts/run.sh

test:
	scripts/test.sh

setup:
	scripts/bootstrap.sh

lint: setup
	.venv/bin/ruff check pipeline dags tests bench

# every benchmark and its table (bench/README.md); `make bench BENCH_ARGS=--quick` for a scaled-down run
bench: setup
	.venv/bin/python bench/run_all.py $(BENCH_ARGS)
