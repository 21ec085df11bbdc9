# The interface of the toolkit. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := all

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml toolkit-constraints.txt | sha256sum | cut -c1-12)
CLI := $(BIN)/tcibsrc

# TCIB: the submodule by default. Where it cannot be cloned (no GitHub) but the reference copy
# sits beside the repository, use that and say so.
TCIB_SUBMODULE := tcib/container-images
TCIB_REFERENCE := ../shared/reference/tcib/container-images
ifeq ($(origin TCIB_DIR),undefined)
  ifeq ($(wildcard $(TCIB_SUBMODULE)/tcib),)
    ifneq ($(wildcard $(TCIB_REFERENCE)/tcib),)
      TCIB_DIR := $(TCIB_REFERENCE)
      $(info note: the tcib submodule is not checked out; using TCIB_DIR=$(TCIB_DIR))
    endif
  endif
endif
TCIB_DIR ?= $(TCIB_SUBMODULE)
CONFIG ?= config.yaml
export TCIB_DIR CONFIG

# upper-constraints: the config pins its URL and sha256; a local copy may stand in for the
# download (its hash is still checked). On this project's machines the reference copy is used.
UC_REFERENCE := ../shared/reference/upper-constraints/2025.1.txt
ifeq ($(origin UPPER_CONSTRAINTS),undefined)
  ifneq ($(wildcard $(UC_REFERENCE)),)
    UPPER_CONSTRAINTS := $(UC_REFERENCE)
  endif
endif
RESOLVER ?= uv
INDEX_URL ?= https://pypi.org/simple
export UPPER_CONSTRAINTS RESOLVER INDEX_URL

.PHONY: help all summary images graph check render pipelines affected test lint format venv clean pin-python-deps \
	update-series verify-hermetic bench-pin lock-rpms

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'
	@echo "  variables: TCIB_DIR=$(TCIB_DIR) CONFIG=$(CONFIG)"

$(STAMP): pyproject.toml toolkit-constraints.txt
	@rm -f $(VENV)/.installed-*
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c toolkit-constraints.txt -e '.[dev]'
	@touch $@

venv: $(STAMP) ## create .venv with the pinned toolkit dependencies

all: $(STAMP) ## the main job: re-render everything derived, check it, print the summary
	$(CLI) render
	$(CLI) pipelines
	$(CLI) graph
	$(CLI) check
	$(CLI) summary

render: $(STAMP) ## write containerfiles/, rpms.in.yaml and rpms.repo from TCIB, the catalog and the locks
	$(CLI) render

pipelines: $(STAMP) ## write .tekton/ (shared Pipeline + PipelineRuns per image) and renovate.json
	$(CLI) pipelines

affected: $(STAMP) ## which PipelineRuns fire for the changes since BASE (default HEAD~1), or FILES="a b"
	$(CLI) affected $(if $(FILES),$(FILES),--base $(or $(BASE),HEAD~1))

summary: all

images: $(STAMP) ## table of the images in scope (ALL=1: every TCIB image; FORMAT=json|markdown)
	$(CLI) images $(if $(ALL),--all) $(if $(FORMAT),--format $(FORMAT))

graph: $(STAMP) ## write the image graph (Mermaid) into the README, and an SVG with graphviz
	$(CLI) graph

pin-python-deps: $(STAMP) ## resolve requirements/*.txt + build closure (RESOLVER=uv|pip-compile, FORCE=1)
	$(CLI) pin-python-deps $(if $(FORCE),--force)

lock-rpms: $(STAMP) ## regenerate rpms.in.yaml + rpms.repo and lock them with rpm-lockfile-prototype (network)
	$(CLI) lock-rpms

verify-hermetic: $(STAMP) ## build IMAGE's wheels offline in unshare -n (default: every image); slow
	$(CLI) verify-hermetic $(if $(IMAGE),--image $(IMAGE)) $(if $(HERMETO_OUTPUT),--hermeto-output $(HERMETO_OUTPUT)) $(if $(CARGO_HOME_VENDORED),--cargo-home $(CARGO_HOME_VENDORED))

bench-pin: $(STAMP) ## benchmark pin-python-deps on the default scope: cold, warm, no-op (network)
	$(BIN)/python bench/pin.py

update-series: $(STAMP) ## regenerate the series data from an openstack/releases checkout (RELEASES_DIR=)
	@test -n "$(RELEASES_DIR)" || { echo "set RELEASES_DIR to an openstack/releases checkout"; exit 2; }
	$(CLI) update-series $(RELEASES_DIR)

check: $(STAMP) ## offline consistency: classification, users, README graph, locks, Containerfiles (STRICT=1: warnings fail)
	$(CLI) check

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff
	$(BIN)/ruff check scripts tests bench
	$(BIN)/ruff format --check scripts tests bench

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix scripts tests bench
	$(BIN)/ruff format scripts tests bench

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
