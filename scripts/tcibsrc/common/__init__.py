"""What every stage shares: the config and the run context, errors and problems, strict YAML,
atomic writes, progress lines, tables, caches, git and registry look-ups."""
