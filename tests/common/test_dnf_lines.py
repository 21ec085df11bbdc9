"""Shell lines with dnf installs: names taken out, and a line cut after the install."""

from __future__ import annotations

from tcibsrc.common.dnf_lines import installed_packages, remove_packages, split_after_install


def test_remove_packages_keeps_the_rest_of_the_line() -> None:
    line = "dnf -y install httpd openstack-keystone && dnf clean all"
    assert remove_packages(line, {"openstack-keystone"}) == (
        "dnf -y install httpd && dnf clean all",
        ["openstack-keystone"],
    )
    # an install left empty goes with its `&&`
    assert remove_packages("dnf install -y crudini && crudini --set f s k v", {"crudini"}) == (
        "crudini --set f s k v",
        ["crudini"],
    )


def test_a_line_is_cut_after_the_install_that_brought_what_follows() -> None:
    head, tail, taken = split_after_install(
        "dnf install -y crudini && crudini --set f s k v && crudini --del f s o",
        {"crudini"},
        {"crudini": ["python3"]},
        uses={"crudini"},
    )
    assert (head, tail, taken) == (
        "dnf install -y python3",
        "crudini --set f s k v && crudini --del f s o",
        ["crudini"],
    )
    # a later install in the tail loses the names too
    assert split_after_install(
        "dnf -y install a x && x --init && dnf -y install x b", {"x"}, uses={"x"}
    ) == ("dnf -y install a", "x --init && dnf -y install b", ["x", "x"])


def test_a_line_is_not_cut_where_two_runs_would_differ() -> None:
    # inside an `if`, or at `||` / `;`: the whole line stays one, with the names out
    for line, expected in (
        ("if true; then dnf -y install x && cmd; fi", "if true; then dnf -y install y && cmd; fi"),
        ("dnf -y install x y || cmd", "dnf -y install y || cmd"),
        ("dnf -y install x y; cmd", "dnf -y install y; cmd"),
    ):
        text = line.replace("install x &&", "install x y &&") if "if" in line else line
        head, tail, taken = split_after_install(text, {"x"}, uses={"cmd"})
        assert (head, tail, taken) == (expected, "", ["x"])
    # after what a second RUN would lose (the directory, the environment, a quote), or when the
    # rest does not call what was installed (horizon's second dnf install): one line
    for line in (
        "cd /opt && dnf -y install x y && cmd",
        "export A=1 && dnf -y install x y && cmd",
        "A=1 && dnf -y install x y && cmd",
        "echo '&&' && dnf -y install x y && cmd",
        "dnf -y install x y && other",
    ):
        head, tail, taken = split_after_install(line, {"x"}, uses={"cmd"})
        assert tail == "" and taken == ["x"] and " y && " in head, line
    # nothing to take: the line as it is
    assert split_after_install("dnf -y install a && cmd", {"x"}) == (
        "dnf -y install a && cmd",
        "",
        [],
    )


def test_installed_packages_reads_every_install() -> None:
    assert installed_packages("dnf -y install a b && yum install -y c; rpm -e d") == [
        "a",
        "b",
        "c",
    ]
