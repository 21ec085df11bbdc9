"""RPMs: spec files and parity with RDO's packages, dnf command lines, rpms.in.yaml and
rpms.repo, and the checks of the RPM lock."""
