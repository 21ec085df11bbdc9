"""make check: a hermetic image's build steps (and the TCIB scripts they run) stay offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REFERENCE_TCIB, REPO_ROOT, ConfigWriter, write_tree
from tcibsrc.common.context import Context
from tcibsrc.containers.network_check import executed_scripts, fetches, network_problems
from tcibsrc.tcib.catalog import build_catalog


@pytest.mark.parametrize(
    ("command", "found"),
    [
        ("pip3 install ansible openstacksdk", ["pip install"]),
        ("python3 -m pip install -U selenium", ["pip install"]),
        ("/usr/bin/python3.12 -m pip wheel x", ["pip install"]),
        ("cd /tmp && curl -L -o x.tgz https://example.invalid/x.tgz", ["curl"]),
        ("wget -q https://example.invalid/a", ["wget"]),
        ("git clone https://opendev.org/x/tobiko /usr/local/src/tobiko", ["git clone"]),
        ("sudo -E env A=1 npm ci", ["npm install"]),
        ("dnf install -y https://example.invalid/x.rpm", ["dnf from a URL"]),
        ("dnf config-manager --add-repo https://example.invalid/r.repo", ["dnf from a URL"]),
        ("ansible-galaxy collection install -r req.yml", ["ansible-galaxy"]),
        # offline forms: what our own wheels stage runs, and plain dnf from the configured repos
        ("pip install --no-index --find-links /wheels -r req.txt", []),
        ("dnf -y install openstack-keystone httpd && dnf clean all", []),
        ("echo 'pip install later'  # curl in a comment", []),
        ("git -C /src log -1", []),
    ],
)
def test_the_tools_that_fetch_are_named(command: str, found: list[str]) -> None:
    assert fetches(command) == found


def test_scripts_run_directly_or_through_a_shell() -> None:
    assert executed_scripts("bash /usr/local/bin/uid_gid_manage nova && /opt/run.sh -x") == [
        "/usr/local/bin/uid_gid_manage",
        "/opt/run.sh",
    ]
    assert executed_scripts("sh -e /usr/local/bin/install_things") == [
        "/usr/local/bin/install_things"
    ]
    assert executed_scripts("dnf -y install x") == []


@pytest.fixture
def offline_repo(tmp_path: Path, write_config: ConfigWriter) -> Context:
    """A TCIB tree with a kolla helper that downloads, and three images using it or not."""
    tcib = write_tree(
        tmp_path / "container-images",
        {
            "tcib/base/base.yaml": "tcib_actions: []\n",
            "tcib/base/os/os.yaml": "tcib_actions: []\n",
            "tcib/base/os/keystone/keystone.yaml": "tcib_actions: []\n",
            "tcib/base/os/nova-api/nova-api.yaml": "tcib_actions: []\n",
            "kolla/base/fetch_tool.sh": "#!/bin/bash\nset -e\ncurl -sL https://x.invalid/t\n",
            "kolla/base/quiet.sh": "#!/bin/bash\necho nothing to fetch\n",
        },
    )
    write_config(images={"scope": ["keystone", "nova-api"]})
    return Context(repo_root=tmp_path, config_file=tmp_path / "config.yaml", tcib_dir=tcib)


def _containerfile(*runs: str) -> str:
    return "FROM quay.io/x/os@sha256:" + "0" * 64 + "\n" + "".join(f"RUN {r}\n" for r in runs)


def test_a_hermetic_image_reaching_the_network_is_named_with_its_line(
    offline_repo: Context,
) -> None:
    helper = "/usr/share/tcib/container-images/kolla/base/fetch_tool.sh"
    quiet = "/usr/share/tcib/container-images/kolla/base/quiet.sh"
    files = {
        "containerfiles/keystone/Containerfile": _containerfile(
            "dnf -y install openstack-keystone",
            f"cp {helper} /usr/local/bin/fetch_tool && chmod 755 /usr/local/bin/fetch_tool",
            "bash /usr/local/bin/fetch_tool",
        ),
        "containerfiles/nova-api/Containerfile": _containerfile(
            f"cp {quiet} /usr/local/bin/quiet", "/usr/local/bin/quiet", "pip3 install nova"
        ),
    }
    catalog = build_catalog(offline_repo)
    lines = [str(p) for p in network_problems(offline_repo, catalog, files)]
    assert len(lines) == 2
    keystone, nova = lines
    assert keystone.startswith("containerfiles/keystone/Containerfile: its PipelineRun is hermetic")
    assert "line 4 runs " in keystone and "kolla/base/fetch_tool.sh: curl" in keystone
    assert "images.builds.keystone: {hermetic: false" in keystone
    assert "(line 4: pip install)" in nova and "quiet" not in nova


def test_an_image_built_with_the_network_on_by_config_is_not_a_problem(
    offline_repo: Context, write_config: ConfigWriter
) -> None:
    write_config(
        images={
            "scope": ["keystone", "nova-api"],
            "builds": {"nova-api": {"hermetic": False, "reason": "installs nova with pip"}},
        }
    )
    files = {"containerfiles/nova-api/Containerfile": _containerfile("pip3 install nova")}
    ctx = Context(
        repo_root=offline_repo.repo_root,
        config_file=offline_repo.config_file,
        tcib_dir=offline_repo.tcib_dir,
    )
    assert list(network_problems(ctx, build_catalog(ctx), files)) == []


@pytest.mark.reference
@pytest.mark.skipif(not REFERENCE_TCIB.is_dir(), reason="no reference data (REFERENCE_DATA)")
def test_in_the_whole_tcib_set_exactly_the_configured_images_reach_the_network(
    tmp_path: Path,
) -> None:
    """The committed Containerfiles of the whole set, read as if every image were hermetic:
    the images that reach the network are exactly those config.yaml builds with it on."""
    config = yaml.safe_load((REPO_ROOT / "config.yaml").read_text(encoding="utf-8"))
    non_hermetic = {
        name for name, build in config["images"]["builds"].items() if not build.get("hermetic", 1)
    }
    config["images"]["builds"] = {}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    config_file = tmp_path / "config.yaml"
    ctx = Context(repo_root=REPO_ROOT, config_file=config_file, tcib_dir=REFERENCE_TCIB)
    catalog = build_catalog(ctx)
    files = {
        f"containerfiles/{name}/Containerfile": (
            REPO_ROOT / "containerfiles" / name / "Containerfile"
        ).read_text(encoding="utf-8")
        for name in catalog.images
    }
    found = {str(p).split("/")[1] for p in network_problems(ctx, catalog, files)}
    assert found == non_hermetic == {"ansible-tests", "horizontest", "tempest-extras", "tobiko"}
