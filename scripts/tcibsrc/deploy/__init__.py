"""Deploy manifests for the openstack-k8s-operators, and the staged deploy."""
