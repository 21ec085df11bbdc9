"""Resolve packages with dnf's Python API, as rpm-lockfile-prototype does; print a lock as JSON.

Run with Debian's /usr/bin/python3 (python3-dnf). Arguments: a JSON request on stdin with
repos [{id, baseurl, gpgkey}], arch, packages. For each arch an empty installroot, the repos
(their ids' variables substituted, as rpm-lockfile-prototype does),
`install` of every package, `resolve()`; every package of the transaction is downloaded and its
signature checked against the repository's key.
"""

import json
import sys
import tempfile

import dnf
import dnf.rpm
import libdnf.conf


def resolve(request, arch):
    with tempfile.TemporaryDirectory() as root:
        base = dnf.Base()
        conf = base.conf
        conf.installroot = root
        conf.cachedir = root + "/cache"
        conf.reposdir = []
        conf.install_weak_deps = False
        conf.arch = arch
        conf.substitutions["arch"] = arch
        conf.substitutions["basearch"] = dnf.rpm.basearch(arch)
        conf.substitutions["releasever"] = "unknown"
        conf.gpgcheck = True
        for repo in request["repos"]:
            # as the locker does: $basearch in a section id becomes the arch's own repoid
            repoid = libdnf.conf.ConfigParser.substitute(repo["id"], conf.substitutions)
            base.repos.add_new_repo(
                repoid, conf, baseurl=[repo["baseurl"]], gpgcheck=True, gpgkey=[repo["gpgkey"]]
            )
        base.fill_sack(load_system_repo=False)
        for name in request["packages"]:
            base.install(name)
        base.resolve()
        packages = sorted(base.transaction.install_set, key=lambda p: p.name)
        base.download_packages(packages)
        entries = []
        for package in packages:
            code, message = base.package_signature_check(package)
            if code == 1:  # key not imported yet: import it as dnf would, then check again
                base.package_import_key(package, askcb=lambda *a: True)
                code, message = base.package_signature_check(package)
            if code != 0:
                raise SystemExit(f"{package}: signature check failed: {message}")
            entries.append(
                {
                    "url": package.remote_location(),
                    "repoid": package.reponame,
                    "size": package.downloadsize,
                    "checksum": f"sha256:{package.chksum[1].hex()}",
                    "name": package.name,
                    "evr": package.evr,
                    "sourcerpm": package.sourcerpm,
                }
            )
        base.close()
        return entries


def main():
    request = json.load(sys.stdin)
    lock = {"lockfileVersion": 1, "lockfileVendor": "redhat", "arches": []}
    for arch in request["arches"]:
        lock["arches"].append(
            {"arch": arch, "packages": resolve(request, arch), "source": [], "module_metadata": []}
        )
    json.dump(lock, sys.stdout)


if __name__ == "__main__":
    main()
