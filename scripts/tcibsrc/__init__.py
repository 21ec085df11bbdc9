"""tcibsrc: OpenStack container images from TCIB definitions, with Python built from source."""
