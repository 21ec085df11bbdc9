"""Python inputs to locks: the index, sdists, build systems and PEP 517 hooks, the build
closure, resolvers, upper-constraints, series, pinning and each image's wheels plan."""
