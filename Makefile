# The two README commands: `make run` and `make test`. Both install from the lock in
# requirements/ (exact versions, hashed), never from pyproject.toml's ranges.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Where `make lock` finds the CPU build of torch (PyTorch's CPU wheel index elsewhere).
TORCH_FIND_LINKS ?= /opt/wheels
# `make lock` moves every package to its newest allowed version; LOCK_UPGRADE= keeps
# the current pins and only resolves what pyproject.toml changed.
LOCK_UPGRADE ?= --upgrade

# --no-deps: the lock is complete, so nothing unlocked can slip in; pip check proves it.
PIP_LOCKED := $(BIN)/python -m pip install -q --require-hashes --no-deps
PIP_PROJECT := $(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
LOCKS := base agent profiling huggingface dev
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--override requirements/overrides.txt --no-emit-package torch

.PHONY: run test lint format bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the lock or pyproject.toml changes.
$(VENV)/.installed: requirements/agent.txt pyproject.toml setup.py | $(BIN)/python
	$(PIP_LOCKED) -r requirements/agent.txt
	$(PIP_PROJECT)
	$(BIN)/python -m pip check
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt requirements/torch.txt pyproject.toml setup.py | $(BIN)/python
	$(PIP_LOCKED) -r requirements/dev.txt -r requirements/torch.txt
	$(PIP_PROJECT)
	$(BIN)/python -m pip check
	touch $(VENV)/.installed $@

# `exec`: make's own child is the supervisor, so a SIGTERM sent to make reaches it.
run: $(VENV)/.installed
	exec env PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/inferscope run

test: $(VENV)/.installed-dev
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev  # ruff, the import layers (.importlinter), mypy, Django's checks
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest.py $(BENCH_ARGS)

# Refresh requirements/*.txt: run after changing a dependency in pyproject.toml, and
# monthly for security fixes; then `make test` before committing the new lock.
lock: $(VENV)/.installed-dev
	for extra in $(LOCKS); do \
		$(BIN)/uv pip compile pyproject.toml requirements/build.in \
			$$( [ $$extra = base ] || echo --extra $$extra ) \
			$$( case $$extra in profiling|huggingface|dev) echo requirements/torch-deps.in;; esac ) \
			$(LOCK_FLAGS) $(LOCK_UPGRADE) -o requirements/$$extra.txt || exit 1; \
	done
	# uv does not hash a local wheel: pip fetches the CPU build and hashes it.
	rm -rf $(VENV)/torch-wheel
	$(BIN)/python -m pip download -q --no-deps --only-binary :all: \
		--find-links $(TORCH_FIND_LINKS) -d $(VENV)/torch-wheel -r requirements/torch.in
	{ echo "# Written by make lock from requirements/torch.in; installed with --no-deps."; \
	  echo "$$(grep '^torch' requirements/torch.in) \\"; \
	  $(BIN)/python -m pip hash $(VENV)/torch-wheel/*.whl | sed -n 's/^--hash=/    --hash=/p'; \
	} > requirements/torch.txt

# Leaves var/ (the SQLite database and the secret key) alone.
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
