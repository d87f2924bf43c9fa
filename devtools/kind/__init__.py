"""The kind runtime and what only it drives: the registry, the kind cluster, its add-ons, the images.

- registry: the local registry container (``RegistryController``);
- cluster: the kind cluster wired to that registry (``ClusterController``);
- addons: cloud-provider-kind and metrics-server, awaited (``CloudProviderController``, ``install_addons``);
- bake, images: docker-bake.json read, and the images built and pushed from it;
- runtime: ``KindRuntime``, the Runtime (devtools.runtime) that puts them together with Tilt.
"""
