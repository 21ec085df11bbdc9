"""Konflux: hermeto's prefetch-input, the .tekton/ Pipeline and PipelineRuns and their release
policy, task bundles, the tenant's manifests, Renovate, and the same build run locally."""
