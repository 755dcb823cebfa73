// dist/bundle/kube.js: @kubernetes/client-node for the component bundles, required only when a
// kubeconfig is involved (src/k8s/access.ts); in a pod the components never load it.
export * from "@kubernetes/client-node";
