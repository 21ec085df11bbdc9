"""Proofs: an image's wheels built offline from the locks (verify-hermetic), and its services
started from those wheels (verify-runtime)."""
