.PHONY: demo test lint
demo:  ## README command 1: install, demo data, serve on http://127.0.0.1:8000
	bash scripts/demo
test:  ## README command 2: install, lint, type-check, full test suite on PostgreSQL + Redis
	bash scripts/test
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && DEBUG=1 .venv/bin/mypy .
