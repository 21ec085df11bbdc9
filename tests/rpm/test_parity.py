"""RPM parity: spec files read, the parity data made from them, and what render and check do."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import require_tools, shown
from pinfixtures import options
from pyindex import Package, PackageIndex
from tcibsrc.common import datafiles
from tcibsrc.common.context import Context
from tcibsrc.containers.parity_check import parity_problems
from tcibsrc.containers.render import render_files
from tcibsrc.interface.cli import main
from tcibsrc.interface.commands.pin import derive_for
from tcibsrc.python.pinning import pin_python_deps
from tcibsrc.rpm import parity
from tcibsrc.rpm.parity import image_parity, python_requirement
from tcibsrc.rpm.spec import SpecFile, parse_spec, requirement_names
from tcibsrc.tcib.catalog import build_catalog

# Written for these tests in the style of RDO's specs: macros, conditionals, subpackages.
KEYSTONE_SPEC = """
%global service keystone
%global rhosp 0
%global with_doc 0
%{!?upstream_version: %global upstream_version %{version}%{?milestone}}
%global common_desc \\
Keystone is the identity service.

Name:           openstack-%{service}
Version:        27.0.1
Release:        1%{?dist}
Requires:       python3-%{service} = %{epoch}:%{version}-%{release}
Requires(pre):  shadow-utils
Obsoletes:      openstack-%{service}-legacy
Provides:       openstack-%{service}-legacy = %{version}

%package -n     python3-%{service}
Summary:        Keystone libraries
Requires:       openssl
Requires:       python3-%{service}+ldap = %{version}-%{release}
%if 0%{?rhosp} == 0
Requires:       python3-memcached >= 1.56
%else
Requires:       python3-never-on-rdo
%endif
%if 0%{?with_doc}
Requires:       python3-sphinx
%endif

%package -n python3-%{service}-tests
Requires:       python3-%{service}
Requires:       python3-stestr

%description
%{common_desc}

%install
install -d %{buildroot}%{_sysconfdir}/%{service}

%files
%license LICENSE
%doc README.rst
%{_bindir}/keystone-manage
%dir %attr(0750, root, %{service}) %{_sysconfdir}/%{service}
%config(noreplace) %attr(0640, root, %{service}) %{_sysconfdir}/%{service}/%{service}.conf
%attr(0644, root, %{service}) %{_datarootdir}/%{service}/%{service}-dist.conf
%{_unitdir}/openstack-keystone.service
%config(noreplace) %{_sysconfdir}/logrotate.d/openstack-keystone
%{_sysconfdir}/sudoers.d/%{service}

%files -n python3-%{service}
%{python3_sitelib}/%{service}
%exclude %{python3_sitelib}/%{service}/tests

%changelog
* Mon Jan 01 2024 Someone - 27.0.1-1
- Requires: python3-not-a-requirement
"""

OSLO_CACHE_SPEC = """
%global pypi_name oslo.cache
%global pkg_name oslo-cache
Name:           python-%{pkg_name}
Version:        3.10.2
Release:        1

%package -n python3-%{pkg_name}
Requires:       python-%{pkg_name}-lang = %{version}-%{release}
Requires:       python3-%{pkg_name}+dogpile = %{version}-%{release}

%package -n python-%{pkg_name}-lang
Summary: translations

%files -n python3-%{pkg_name}
%{python3_sitelib}/oslo_cache

%files -n python-%{pkg_name}-lang -f oslo_cache.lang
"""


def test_a_version_is_never_read_as_a_package_name() -> None:
    # ovn-bgp-agent's spec writes `Requires: python3-oslo-service => 1.40.2`, which rpm reads
    # as >=; "1.40.2" once reached an image's dnf line as a package
    assert requirement_names("python3-oslo-service => 1.40.2, frr") == [
        "python3-oslo-service",
        "frr",
    ]
    assert requirement_names("a =< 2, b == 3") == ["a", "b"]


def test_a_spec_gives_each_binary_package_its_requires_and_files() -> None:
    spec = parse_spec(KEYSTONE_SPEC)
    assert spec.name == "openstack-keystone"
    assert set(spec.packages) == {
        "openstack-keystone",
        "python3-keystone",
        "python3-keystone-tests",
    }
    assert spec.packages["openstack-keystone"].requires == ["python3-keystone"]  # not (pre)
    # the %if 0%{?rhosp} == 0 branch, not %else; no docs; versions dropped
    assert spec.packages["python3-keystone"].requires == [
        "openssl",
        "python3-keystone+ldap",
        "python3-memcached",
    ]
    assert spec.packages["openstack-keystone"].files == [
        SpecFile("/usr/bin/keystone-manage"),
        SpecFile("/etc/keystone", directory=True, mode="0750", owner="root", group="keystone"),
        SpecFile(
            "/etc/keystone/keystone.conf", config=True, mode="0640", owner="root", group="keystone"
        ),
        SpecFile(
            "/usr/share/keystone/keystone-dist.conf", mode="0644", owner="root", group="keystone"
        ),
        SpecFile("/usr/lib/systemd/system/openstack-keystone.service"),
        SpecFile("/etc/logrotate.d/openstack-keystone", config=True),
        SpecFile("/etc/sudoers.d/keystone"),
    ]


@pytest.fixture
def specs_dir(tmp_path: Path) -> Path:
    for name, text in (
        ("keystone-distgit", KEYSTONE_SPEC),
        ("oslo-cache-distgit", OSLO_CACHE_SPEC),
    ):
        directory = tmp_path / "specs" / name
        directory.mkdir(parents=True)
        spec = (
            "openstack-keystone.spec" if name.startswith("keystone") else "python-oslo-cache.spec"
        )
        (directory / spec).write_text(textwrap.dedent(text))
        (directory / "COMMIT").write_text(f"rdo-packages/{name} epoxy-rdo {'a' * 40} 2025-04-01\n")
    return tmp_path / "specs"


WAIVERS = """
pypi_names:
  python3-memcached: python-memcached
"""


def update_parity(ctx: Context, specs: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """make update-parity into the scratch repository; the toolkit then reads that data."""
    monkeypatch.chdir(ctx.repo_root)
    waivers = ctx.repo_root / "parity_waivers.yaml"
    waivers.write_text(WAIVERS)
    monkeypatch.setenv("TCIBSRC_PARITY_WAIVERS", str(waivers))
    args = ["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir)]
    assert main([*args, "update-parity", str(specs)]) == 0
    data = ctx.repo_root / "scripts/tcibsrc/data/rpm_parity.yaml"
    monkeypatch.setenv("TCIBSRC_PARITY", str(data))
    return data


def test_update_parity_keeps_the_facts_services_use(
    repo: Context, specs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = yaml.safe_load(update_parity(repo, specs_dir, monkeypatch).read_text())
    assert data["sources"] == {
        "openstack-keystone": f"rdo-packages/keystone-distgit epoxy-rdo {'a' * 40} 2025-04-01",
        "python-oslo-cache": f"rdo-packages/oslo-cache-distgit epoxy-rdo {'a' * 40} 2025-04-01",
    }
    # tests and translations are left out; units, logrotate and site-packages too
    assert set(data["packages"]) == {"openstack-keystone", "python3-keystone", "python3-oslo-cache"}
    paths = [item["path"] for item in data["packages"]["openstack-keystone"]["files"]]
    assert paths == [
        "/usr/bin/keystone-manage",
        "/etc/keystone",
        "/etc/keystone/keystone.conf",
        "/usr/share/keystone/keystone-dist.conf",
        "/etc/sudoers.d/keystone",
    ]
    assert "files" not in data["packages"]["python3-keystone"]
    assert main(["update-parity", str(specs_dir / "nowhere")]) == 1


def test_an_images_parity_follows_requires_through_the_rpms_that_became_wheels(
    repo: Context, specs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    update_parity(repo, specs_dir, monkeypatch)
    parity = image_parity(["openstack-keystone"], ["keystone", "oslo-cache"])
    assert parity.python == {
        "keystone[ldap]": {"python3-keystone"},
        "python-memcached": {"python3-keystone"},  # pymod2pkg's ambiguity settled by waivers
        "oslo-cache[dogpile]": {"python3-oslo-cache"},
    }
    assert parity.system == {"openssl": {"python3-keystone"}}
    assert "/etc/keystone/keystone.conf" in parity.files
    assert python_requirement("python3-oslo-cache+dogpile") == "oslo-cache[dogpile]"
    # an image that installs the RPM by a name it provides gets the same
    assert image_parity(["openstack-keystone-legacy"], ["keystone", "oslo-cache"]) == parity
    assert python_requirement("openssl") is None


def test_render_installs_what_the_rpm_brought_and_check_names_what_is_missing(
    pinned_repo: Context,
    index: PackageIndex,
    specs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = pinned_repo
    update_parity(ctx, specs_dir, monkeypatch)
    files = render_files(ctx)
    keystone = files["containerfiles/keystone/Containerfile"]
    # openssl, which python3-keystone required, takes openstack-keystone's place
    assert "\nRUN dnf -y install httpd python3-mod_wsgi openssl\n" in keystone
    problems = shown(parity_problems(ctx, build_catalog(ctx), files))
    unread = (
        ": no parity data says what this RPM brought (read its RDO spec (`make update-parity "
        "SPECS_DIR=` with rdo-packages/<name>-distgit), or say why none is needed under unread: "
        "in scripts/tcibsrc/data/parity_waivers.yaml)"
    )
    repin = (
        "re-pin with `make pin-python-deps`, which derives it from the parity data, or waive "
        "it with a reason in scripts/tcibsrc/data/parity_waivers.yaml)"
    )
    assert problems == [
        f"parity: os: python3-keystoneclient{unread}",
        f"parity: os: python3-pymemcache{unread}",
        f"parity: keystone: python3-ldappool{unread}",
        "parity: keystone: python3-keystone (RDO) requires keystone[ldap]: the extra [ldap] is "
        f"not asked for ({repin}",
        f"parity: keystone: python3-keystone (RDO) requires python-memcached: not in the lock "
        f"({repin}",
        "parity: keystone: openstack-keystone (RDO) installed /etc/keystone/keystone.conf: "
        "provided by no stage (or waive it with a reason in "
        "scripts/tcibsrc/data/parity_waivers.yaml)",
        "parity: keystone: openstack-keystone (RDO) installed /etc/sudoers.d/keystone: "
        "provided by no stage (or waive it with a reason in "
        "scripts/tcibsrc/data/parity_waivers.yaml)",
        "parity: keystone: openstack-keystone (RDO) installed "
        "/usr/share/keystone/keystone-dist.conf: provided by no stage (or waive it with a "
        "reason in scripts/tcibsrc/data/parity_waivers.yaml)",
        f"parity: nova-base: openstack-nova-common{unread}",
        f"parity: nova-api: openstack-nova-api{unread}",
    ]
    # what the fixes are: a re-pin derives the requirements (no hand list of images), the
    # files and the RPMs without a spec are waived with a reason
    index.add(Package("python-memcached", "1.62"))
    waivers = ctx.repo_root / "parity_waivers.yaml"
    waivers.write_text(
        WAIVERS
        + "files:\n  /etc/keystone/keystone.conf: the operator copies its own\n"
        + "  /etc/sudoers.d/keystone: keystone runs nothing as root\n"
        + "  /usr/share/keystone/*: RDO's extras\n"
        + "unread:\n"
        + "".join(
            f"  {rpm}: a test fixture\n"
            for rpm in (
                "python3-keystoneclient",
                "python3-pymemcache",
                "python3-ldappool",
                "openstack-nova-common",
                "openstack-nova-api",
            )
        )
    )
    pin_python_deps(ctx, options(ctx, index))
    files = render_files(ctx)
    assert shown(parity_problems(ctx, build_catalog(ctx), files)) == []
    plan = json.loads(files["containerfiles/keystone/wheels-plan.json"])
    runtime = {p["name"] for p in plan["packages"] if p["role"] == "runtime"}
    assert "python-memcached" in runtime
    keystone_in = (ctx.repo_root / "requirements" / "keystone.in").read_text()
    derived = keystone_in.split("# What the RDO RPMs this image replaces required", 1)[1]
    assert "\nkeystone[ldap]\n" in derived and "\npython-memcached\n" in derived
    # nova-api installs no RPM that required them: nothing derived for it
    assert "python-memcached" not in (ctx.repo_root / "requirements" / "nova-api.txt").read_text()


CONDITIONALS = """
Name: demo
Version: 1
%if 0%{?rhel} >= 9
Requires: on-el
%elif 0%{?fedora}
Requires: on-fedora
%else
Requires: elsewhere
%endif
%if 0%{?fedora}
Requires: fedora-only
%elif 0%{?rhel}
Requires: rhel-by-elif
%else
Requires: neither
%endif
%if %{undefined fedora}
Requires: not-fedora
%endif
%if %{defined rhel}
Requires: rhel-defined
%endif
%description
x
%files
/usr/bin/demo
"""


@pytest.mark.parametrize(
    ("defines", "expected"),
    [
        ({"rhel": "10"}, ["on-el", "rhel-by-elif", "not-fedora", "rhel-defined"]),
        ({"fedora": "42"}, ["on-fedora", "fedora-only"]),
        ({}, ["elsewhere", "neither", "not-fedora"]),
    ],
    ids=["el10", "fedora", "no-distro"],
)
def test_exactly_one_branch_of_a_conditional_chain_is_read(
    defines: dict[str, str], expected: list[str]
) -> None:
    assert parse_spec(CONDITIONALS, defines).packages["demo"].requires == expected


def test_update_parity_reads_the_specs_as_an_el10_build_root_does(
    repo: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = tmp_path / "el-specs" / "demo-distgit"
    specs.mkdir(parents=True)
    (specs / "demo.spec").write_text(CONDITIONALS)
    (specs / "COMMIT").write_text(f"rdo-packages/demo-distgit epoxy-rdo {'b' * 40} 2025-04-01\n")
    data = yaml.safe_load(update_parity(repo, specs.parent, monkeypatch).read_text())
    # the data's %rhel 10 and no %fedora, as CentOS Stream 10 builds it
    assert data["packages"]["demo"]["requires"] == sorted(
        ["on-el", "rhel-by-elif", "not-fedora", "rhel-defined"]
    )
    assert data["sources"]["demo"] == f"rdo-packages/demo-distgit epoxy-rdo {'b' * 40} 2025-04-01"


def test_rpmspec_names_what_our_reader_reads_differently(
    repo: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    require_tools("rpmspec")
    specs = tmp_path / "lua-specs" / "lua-distgit"
    specs.mkdir(parents=True)
    # a macro made by Lua: rpm evaluates it, our reader cannot
    (specs / "lua.spec").write_text(
        "Name: lua-demo\nVersion: 1\nRelease: 1\nSummary: x\nLicense: MIT\n"
        '%global computed %{lua: print("from-lua")}\nRequires: %{computed}\n'
        "%description\nx\n%files\n/usr/bin/lua-demo\n"
    )
    (specs / "COMMIT").write_text(f"rdo-packages/lua-distgit epoxy-rdo {'c' * 40} 2025-04-01\n")
    capsys.readouterr()
    update_parity(repo, specs.parent, monkeypatch)
    assert (
        "note: lua.spec: lua-demo: rpmspec reads the Requires differently: ['from-lua']"
        in capsys.readouterr().err
    )


def test_a_series_reads_its_own_parity_data_or_says_what_stands_in(
    repo: Context,
    specs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(repo.repo_root)
    args = ["--config", str(repo.config_file), "--tcib-dir", str(repo.tcib_dir)]
    # the specs are epoxy-rdo's: the series' own file, and nothing said about branches
    assert main([*args, "update-parity", str(specs_dir), "--series", "epoxy"]) == 0
    data = repo.repo_root / "scripts/tcibsrc/data"
    assert (data / "rpm_parity-epoxy.yaml").is_file()
    assert not (data / "rpm_parity.yaml").exists()
    assert "branches other than" not in capsys.readouterr().err
    assert main([*args, "update-parity", str(specs_dir), "--series", "flamingo"]) == 0
    assert "branches other than flamingo-rdo among them: epoxy-rdo" in capsys.readouterr().err
    assert main([*args, "update-parity", str(specs_dir), "--series", "Zed;x"]) == 1
    assert "not a series name" in capsys.readouterr().err
    # the toolkit reads epoxy's own file; flamingo's is there too; gazpacho has the stand-in
    monkeypatch.delenv("TCIBSRC_PARITY")  # the data files as shipped, with the series' own
    packaged = parity.data_path
    monkeypatch.setattr(
        parity,
        "data_path",
        lambda name: data / name if name.startswith("rpm_parity-") else packaged(name),
    )
    assert parity.parity_file("epoxy") == "rpm_parity-epoxy.yaml"
    assert parity.stand_in_note("epoxy") is None
    (data / "rpm_parity-flamingo.yaml").unlink()
    note = parity.stand_in_note("flamingo")
    assert note is not None and "standing in for flamingo-rdo" in note
    gazpacho = parity.stand_in_note("gazpacho")
    assert gazpacho is not None and "a branch RDO does not have" in gazpacho
    monkeypatch.setenv("TCIBSRC_PARITY", os.devnull)  # data named explicitly: nothing said
    assert parity.stand_in_note("gazpacho") is None


def test_render_pin_and_check_read_the_series_own_parity_data(
    pinned_repo: Context,
    index: PackageIndex,
    specs_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """epoxy's own file (the fixture specs) against an empty stand-in: what the RPMs brought
    reaches the Containerfile, the derived requirements and the check only through the series."""
    ctx = pinned_repo
    monkeypatch.chdir(ctx.repo_root)
    args = ["--config", str(ctx.config_file), "--tcib-dir", str(ctx.tcib_dir)]
    assert main([*args, "update-parity", str(specs_dir), "--series", "epoxy"]) == 0
    data = ctx.repo_root / "scripts/tcibsrc/data"
    (data / "rpm_parity.yaml").write_text("packages: {}\n")  # the stand-in knows nothing
    packaged = datafiles.data_path

    def local(name: str) -> Path:
        return data / name if name.startswith("rpm_parity") else packaged(name)

    monkeypatch.setattr(datafiles, "data_path", local)
    monkeypatch.setattr(parity, "data_path", local)
    monkeypatch.delenv("TCIBSRC_PARITY")
    files = render_files(ctx)
    keystone = files["containerfiles/keystone/Containerfile"]
    assert "\nRUN dnf -y install httpd python3-mod_wsgi openssl\n" in keystone
    derived = derive_for(build_catalog(ctx), ctx.config)({}, {})
    assert "keystone[ldap]" in derived.get("keystone", [])  # python3-keystone required it
    problems = list(parity_problems(ctx, build_catalog(ctx), files))
    assert not [p for p in problems if "standing in" in p.message]
    # gazpacho has no file of its own: the stand-in, said in one warning
    config = yaml.safe_load(ctx.config_file.read_text())
    config["release"] = {"series": "gazpacho", "version": "2026.1"}
    ctx.config_file.write_text(yaml.safe_dump(config))
    ctx.__dict__.pop("config", None)
    warnings = [p for p in parity_problems(ctx, build_catalog(ctx), files) if p.is_warning]
    assert [p.where for p in warnings] == ["parity"]
    assert "standing in for a branch RDO does not have" in warnings[0].message
