"""Lock rules: everything hermeto would reject is reported with file, line and reason."""

from __future__ import annotations

import pytest

from conftest import shown
from tcibsrc.python.lock_rules import check_text

GOOD = """# header
alembic==1.14.1 \\
    --hash=sha256:496e888245a53adf1498fcab31713a469c65836f8de76e01399aa1c3e90dd213
    # via oslo-db
six===1.17.0 --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274
"""
HASH = "--hash=sha256:" + "a" * 64


def test_a_good_lock_has_no_problems() -> None:
    assert shown(check_text(GOOD, "r.txt")) == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (f"six>=1.16 {HASH}", "r.txt:2: six is not pinned with =="),
        (f"six {HASH}", "r.txt:2: six is not pinned with =="),
        ("--extra-index-url https://example.invalid/simple", "--extra-index-url: hermeto refuses"),
        ("--no-index", "--no-index: hermeto refuses"),
        ("--find-links /tmp/wheels", "--find-links: hermeto refuses --find-links"),
        ("-f /tmp/wheels", "-f: hermeto refuses --find-links"),
        ("--only-binary :all:", "--only-binary: hermeto fetches sdists"),
        ("--frobnicate", "--frobnicate: an option hermeto does not accept"),
        (f"pkg @ file:///tmp/pkg.tar.gz {HASH}", "file: references are refused"),
        (
            "git+https://opendev.org/openstack/nova@master#egg=nova",
            "VCS reference without a full 40-hex commit",
        ),
        (
            f"nova @ git+https://opendev.org/openstack/nova@{'a' * 40} {HASH}",
            "VCS references cannot carry hashes",
        ),
        ("pkg @ https://example.invalid/pkg-1.0.tar.gz", "needs exactly one --hash"),
        ("six==1.17.0 --hash=md5:abc", "malformed hash"),
    ],
)
def test_each_rule(line: str, problem: str) -> None:
    text = GOOD.splitlines()[0] + "\n" + line + "\n"
    problems = shown(check_text(text, "r.txt"))
    assert any(problem in item for item in problems), problems


def test_hashes_on_some_lines_only() -> None:
    problems = shown(check_text(GOOD + "pbr==6.1.1\n", "r.txt"))
    assert problems == [
        "r.txt:6: no --hash while other entries have one (hermeto requires hashes on all or none)"
    ]


def test_no_hashes_at_all_is_refused_by_our_policy() -> None:
    assert shown(check_text("six==1.17.0\n", "r.txt")) == [
        "r.txt:1: entries without --hash (every lock entry must be hashed)"
    ]


def test_allowed_options_pass() -> None:
    text = f"--index-url https://pypi.org/simple\n--require-hashes\nsix==1.17.0 {HASH}\n"
    assert shown(check_text(text, "r.txt")) == []
