# The interface of the toolkit. `make help` lists every target.
SHELL := /bin/bash
.DEFAULT_GOAL := all

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml toolkit-constraints.txt | sha256sum | cut -c1-12)
CLI := $(BIN)/tcibsrc

# Settings of this machine (TCIB_DIR=..., UPPER_CONSTRAINTS=...), kept out of git.
-include local.mk

# TCIB: the tcib submodule by default (an empty one is fetched at its pinned commit on first
# use); TCIB_DIR=<container-images directory> points elsewhere.
TCIB_DIR ?=
CONFIG ?= config.yaml
export TCIB_DIR CONFIG

# upper-constraints: the config pins its URL and sha256, and the file is downloaded and cached;
# UPPER_CONSTRAINTS=<file> uses a local copy instead (its hash is still checked).
export UPPER_CONSTRAINTS
RESOLVER ?= uv
INDEX_URL ?= https://pypi.org/simple
export RESOLVER INDEX_URL

.PHONY: help all config-schema summary images graph check render pipelines affected test lint format venv clean pin-python-deps \
	update-series new-series update-git-sources verify-hermetic bench-pin bench-whole-set lock-rpms test-tools update-parity verify-runtime bench-wheels prefetch pull-python-deps build install-python-deps shell run-dev-libs-image deploy-manifests deploy deploy-check update-crds update-bundles konflux-manifests

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "} {name[NR] = $$1; text[NR] = $$2; if (length($$1) > w) w = length($$1)} \
	       END {for (i = 1; i <= NR; i++) printf "  %-*s  %s\n", w, name[i], text[i]}'
	@echo "  variables: TCIB_DIR=$(or $(TCIB_DIR),tcib/container-images (the submodule)) CONFIG=$(CONFIG)"

$(STAMP): pyproject.toml toolkit-constraints.txt
	@rm -f $(VENV)/.installed-*
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c toolkit-constraints.txt -e '.[dev]'
	@touch $@

venv: $(STAMP) ## create .venv with the pinned toolkit dependencies

all: $(STAMP) ## the main job: re-render everything derived, check it, print the summary
	$(CLI) all

config-schema: $(STAMP) ## write scripts/tcibsrc/schemas/config.schema.json (for editors) from the config's model
	$(CLI) config-schema

render: $(STAMP) ## write containerfiles/, rpms.in.yaml and rpms.repo from TCIB, the catalog and the locks
	$(CLI) render

pipelines: $(STAMP) ## write .tekton/ (shared Pipeline + PipelineRuns per image) and renovate.json
	$(CLI) pipelines

affected: $(STAMP) ## which PipelineRuns fire for the changes since BASE (default HEAD~1), or FILES="a b"
	$(CLI) affected $(if $(FILES),$(FILES),--base $(or $(BASE),HEAD~1))

summary: all

images: $(STAMP) ## table of the images in scope (ALL=1: every TCIB image; WIDE=1: every column; FORMAT=json|markdown)
	$(CLI) images $(if $(ALL),--all) $(if $(WIDE),--wide) $(if $(FORMAT),--format $(FORMAT))

graph: $(STAMP) ## write the image graph (Mermaid) into the README, and an SVG with graphviz
	$(CLI) graph

pin-python-deps: $(STAMP) ## resolve requirements/*.txt + build closure (RESOLVER=uv|pip-compile, FORCE=1, UPDATE=1 moves the cutoff)
	$(CLI) pin-python-deps $(if $(FORCE),--force) $(if $(filter 1,$(UPDATE)),--update)

new-series: $(STAMP) ## move the config to SERIES= (UPPER_CONSTRAINTS=<its file> [UC_COMMIT=], or REQUIREMENTS_DIR=), re-pin, then render everything; prints what changed
	$(if $(SERIES),,$(error SERIES= names the series: make new-series SERIES=gazpacho UPPER_CONSTRAINTS=<its upper-constraints.txt>))
	$(CLI) new-series '$(SERIES)' $(if $(UPPER_CONSTRAINTS),--upper-constraints $(UPPER_CONSTRAINTS)) $(if $(UC_COMMIT),--uc-commit $(UC_COMMIT)) $(if $(REQUIREMENTS_DIR),--requirements-dir $(REQUIREMENTS_DIR))
	$(MAKE) all

update-git-sources: $(STAMP) ## move the git sources (the trunk mode's services) to their branch heads, re-pin and say what moved; a nightly job's command
	$(CLI) pin-python-deps --update-git

lock-rpms: $(STAMP) ## regenerate rpms.in.yaml + rpms.repo and lock them with rpm-lockfile-prototype (network)
	$(CLI) lock-rpms

verify-hermetic: $(STAMP) ## build IMAGE's wheels offline in unshare -n (default: every image); slow
	$(CLI) verify-hermetic $(if $(IMAGE),--image $(IMAGE)) $(if $(HERMETO_OUTPUT),--hermeto-output $(HERMETO_OUTPUT)) $(if $(CARGO_HOME_VENDORED),--cargo-home $(CARGO_HOME_VENDORED))

verify-runtime: $(STAMP) ## start IMAGE's services from its wheels offline against MariaDB, RabbitMQ and memcached on loopback (default: every API service with a scenario); slow
	@PYTHONPATH=scripts $(PYTHON) -m tcibsrc.interface.tools_check verify-runtime
	$(CLI) verify-runtime $(if $(IMAGE),--image $(IMAGE)) $(if $(CARGO_HOME_VENDORED),--cargo-home $(CARGO_HOME_VENDORED))

prefetch: $(STAMP) ## hermeto fetch-deps, generate-env, inject-files for IMAGE into build/prefetch/IMAGE (network; CRATES=0 skips cargo vendoring)
	@test -n "$(IMAGE)" || { echo "set IMAGE, e.g. make prefetch IMAGE=keystone"; exit 2; }
	$(CLI) prefetch $(IMAGE) $(if $(filter 0 no false,$(CRATES)),--no-crates)

pull-python-deps: prefetch ## alias of prefetch

build: $(STAMP) ## build the builder, IMAGE's parents and IMAGE with podman or buildah, network off, from the prefetch
	@test -n "$(IMAGE)" || { echo "set IMAGE, e.g. make build IMAGE=keystone"; exit 2; }
	$(CLI) build $(IMAGE)

install-python-deps: $(STAMP) ## only IMAGE's wheels stage (the builder's program on the image's plan), network off
	@test -n "$(IMAGE)" || { echo "set IMAGE, e.g. make install-python-deps IMAGE=keystone"; exit 2; }
	$(CLI) build --wheels-only $(IMAGE)

shell: $(STAMP) ## a shell in the builder with IMAGE's prefetch and hermeto's environment, network off (podman)
	@test -n "$(IMAGE)" || { echo "set IMAGE, e.g. make shell IMAGE=keystone"; exit 2; }
	$(CLI) shell $(IMAGE)

run-dev-libs-image: shell ## alias of shell

deploy-manifests: $(STAMP) ## write deploy/ (OpenStackVersion by digest, the minimal control plane + ENABLE=cinder,heat,...) from SNAPSHOT=snapshot.json or TAG=
	$(CLI) deploy-manifests

deploy: $(STAMP) ## apply deploy/ to the current kubectl/oc context, STAGE=infra|identity|all, waiting for each stage
	$(CLI) deploy

deploy-check: $(STAMP) ## openstack endpoint list, token issue, network and image create/delete through openstackclient
	$(CLI) deploy-check

update-bundles: $(STAMP) ## refresh data/konflux_*.yaml from checkouts (BUILD_DEFINITIONS= EC_POLICY_DATA= [CATALOG=] [PINNED_BUNDLES=]), then make pipelines
	BUILD_DEFINITIONS=$(BUILD_DEFINITIONS) EC_POLICY_DATA=$(EC_POLICY_DATA) PINNED_BUNDLES=$(PINNED_BUNDLES) CATALOG=$(CATALOG) $(CLI) update-bundles

konflux-manifests: $(STAMP) ## write konflux/: Application, Components (build-nudges-ref), ImageRepositories, rule data (GIT_URL=)
	GIT_URL=$(GIT_URL) $(CLI) konflux-manifests

update-crds: $(STAMP) ## regenerate CRD schemas from checkouts (OPENSTACK_OPERATOR= APPLICATION_API= IMAGE_CONTROLLER=)
	@test -n "$(OPENSTACK_OPERATOR)$(APPLICATION_API)$(IMAGE_CONTROLLER)" || { echo "set OPENSTACK_OPERATOR=, APPLICATION_API= and/or IMAGE_CONTROLLER= to checkouts of those repositories"; exit 2; }
	OPENSTACK_OPERATOR=$(OPENSTACK_OPERATOR) APPLICATION_API=$(APPLICATION_API) IMAGE_CONTROLLER=$(IMAGE_CONTROLLER) $(CLI) update-crds

bench-pin: $(STAMP) ## benchmark pin-python-deps on the minimal scope: cold, warm, no-op, previous path beside the current one (network)
	$(BIN)/python bench/pin.py

bench-whole-set: $(STAMP) ## the whole TCIB set: cold pin and `make` (second run), the previous path beside the current one (network, minutes)
	$(BIN)/python bench/whole_set.py

bench-wheels: $(STAMP) ## benchmark IMAGE's (default keystone) cold wheels stage: previous path against the program (tens of minutes)
	$(BIN)/python bench/wheels.py $(or $(IMAGE),keystone)

update-series: $(STAMP) ## regenerate the series data (every maintained series, or SERIES=) from an openstack/releases checkout (RELEASES_DIR=)
	@test -n "$(RELEASES_DIR)" || { echo "set RELEASES_DIR to an openstack/releases checkout"; exit 2; }
	$(CLI) update-series $(RELEASES_DIR)

update-parity: $(STAMP) ## regenerate the RPM parity data from RDO distgit spec files (SPECS_DIR=, SERIES= for that series' own)
	@test -n "$(SPECS_DIR)" || { echo "set SPECS_DIR to a directory of rdo-packages/<name>-distgit checkouts"; exit 2; }
	$(CLI) update-parity $(SPECS_DIR) $(if $(SERIES),--series '$(SERIES)')

check: $(STAMP) ## offline consistency: classification, users, README graph, locks, Containerfiles (STRICT=1: warnings fail)
	$(CLI) check

test-tools: ## check the system tools the tests need (rpm, createrepo-c, python3-dnf, ...); seconds
	@PYTHONPATH=scripts $(PYTHON) -m tcibsrc.interface.tools_check test

# Line coverage of scripts/ (child processes included); a full run fails under COVERAGE_MIN.
COVERAGE_MIN ?= 90
test: test-tools $(STAMP) ## run the test suite with line coverage (about 5 minutes; needs the tools of test-tools)
	@$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest $(PYTEST_ARGS)
	@$(BIN)/coverage combine -q
	$(BIN)/coverage report $(if $(PYTEST_ARGS),,--fail-under=$(COVERAGE_MIN))

lint: $(STAMP) ## ruff, and the import layers of the sub-packages (import-linter)
	$(BIN)/ruff check scripts tests bench
	$(BIN)/ruff format --check scripts tests bench
	$(BIN)/lint-imports --no-cache

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix scripts tests bench
	$(BIN)/ruff format scripts tests bench

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
