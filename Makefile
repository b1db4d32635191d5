# Civicfund: two commands on a fresh machine.
#   make up     the whole platform with demo data (Ctrl-C stops it);
#               make up REPLICAS="payments=2 notifications=2" runs replicas of those services
#   make test   every test suite
.PHONY: up test down status bench lint fmt

up:
	./scripts/up

test:
	./scripts/test

down:
	.venv/bin/python -c "from devstack.up import down; down()"

status:
	.venv/bin/python -c "from devstack.up import status; status()"

bench:
	./scripts/bootstrap && .venv/bin/python bench/bus.py

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

fmt:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
