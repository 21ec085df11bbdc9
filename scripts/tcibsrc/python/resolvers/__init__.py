"""Resolver backends: each turns requirements + constraints into pins with `via` edges."""

from __future__ import annotations

from tcibsrc.python.resolvers.base import Resolution, ResolveRequest, ResolverError, resolver_named

__all__ = ["Resolution", "ResolveRequest", "ResolverError", "resolver_named"]
