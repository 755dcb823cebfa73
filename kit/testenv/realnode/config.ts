// Pure renderers for the real-node cluster's configuration files: containerd, CNI, kubelet,
// kube-proxy and CoreDNS. No I/O here; kit/testenv/realnode/cluster.ts writes the results.
// Addresses: everything lives inside the sandbox's own network namespace (sandbox.ts), so these
// private ranges never appear on the machine's interfaces.

/** The kube-apiserver's address inside the namespace (on its `lo`); the `kubernetes` endpoint. */
export const CONTROL_PLANE_IP = "10.99.0.1";
/** Node i's InternalIP (on the namespace's `lo`; kubelet refuses 127.x). */
export function nodeIP(i: number): string {
  return `10.99.0.${String(11 + i)}`;
}
/** Node i's pod range: one bridge per node, non-overlapping ranges, routed inside the namespace. */
export function podSubnet(i: number): string {
  return `10.244.${String(i)}.0/24`;
}
export const CLUSTER_CIDR = "10.244.0.0/16";
/** kube-dns Service address (inside SERVICE_CLUSTER_IP_RANGE 10.0.0.0/24). */
export const CLUSTER_DNS_IP = "10.0.0.10";
export const SANDBOX_IMAGE = "registry.k8s.io/pause:brupop-testenv";

export interface NodePaths {
  /** containerd root (images, snapshots: on disk, survives a simulated reboot). */
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly ipamDir: string;
  readonly kubeletRoot: string;
  readonly podLogsDir: string;
}

/**
 * containerd's registry host configuration (certs.d/<host>/hosts.toml, read through the CRI
 * plugin's `registry.config_path`), as an operator writes it for a registry with a private CA.
 */
export function registryHostsToml(host: string, caFile: string): string {
  const q = (s: string): string => JSON.stringify(s);
  return `server = ${q(`https://${host}`)}

[host.${q(`https://${host}`)}]
  capabilities = ["pull", "resolve"]
  ca = ${q(caFile)}
`;
}

/** `registryConfigDir`: a certs.d-style directory of hosts.toml files (registryHostsToml). */
export function containerdConfig(p: NodePaths, registryConfigDir?: string): string {
  const q = (s: string): string => JSON.stringify(s); // TOML basic strings accept JSON escapes
  return `version = 2
root = ${q(p.containerdRoot)}
state = ${q(p.containerdState)}
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${q(p.containerdSocket)}

[ttrpc]
  address = ${q(`${p.containerdSocket}.ttrpc`)}

[debug]
  level = "info"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(SANDBOX_IMAGE)}
  # Required here: root lacks CAP_SYS_RESOURCE, and without this every sandbox fails with
  # "failed to update /proc/self/oom_score_adj: Permission denied".
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${q(p.runcRoot)}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = ${q(p.cniConfDir)}
    max_conf_num = 1
${
  registryConfigDir === undefined
    ? ""
    : `  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = ${q(registryConfigDir)}
`
}`;
}

/** A bridge per node, no masquerading (nothing may leave the namespace), host-local IPAM. */
export function cniConfig(i: number, ipamDir: string): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: `brupop-node-${String(i)}`,
      plugins: [
        {
          type: "bridge",
          bridge: `brupop${String(i)}`,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: ipamDir,
            ranges: [[{ subnet: podSubnet(i) }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export interface KubeletConfigInput {
  readonly index: number;
  readonly paths: NodePaths;
  /** cgroupRoot, pre-created in every v1 hierarchy by the sandbox. */
  readonly cgroupRoot: string;
  readonly resolvConf: string;
  readonly clientCAFile: string;
}

export function kubeletConfig(c: KubeletConfigInput): string {
  const ip = nodeIP(c.index);
  // JSON is valid YAML; the kubelet accepts either.
  return `${JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // Kubernetes 1.36 refuses cgroup v1 unless told otherwise; this machine is v1 (hybrid).
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      cgroupRoot: c.cgroupRoot,
      cgroupsPerQOS: true,
      enforceNodeAllocatable: ["pods"],
      address: ip,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: ip,
      healthzPort: 10248,
      // Inside a namespace nothing else can reach: the apiserver calls kubelets (logs, exec)
      // without a client certificate.
      authentication: {
        anonymous: { enabled: true },
        webhook: { enabled: false },
        x509: { clientCAFile: c.clientCAFile },
      },
      authorization: { mode: "AlwaysAllow" },
      clusterDomain: "cluster.local",
      clusterDNS: [CLUSTER_DNS_IP],
      resolvConf: c.resolvConf,
      containerRuntimeEndpoint: `unix://${c.paths.containerdSocket}`,
      podLogsDir: c.paths.podLogsDir,
      failSwapOn: false,
      serializeImagePulls: false,
      rotateCertificates: false,
      serverTLSBootstrap: false,
      // A shared build machine: never evict or collect images because of someone else's disk use.
      evictionHard: {
        "memory.available": "1Mi",
        "nodefs.available": "1%",
        "imagefs.available": "1%",
        "nodefs.inodesFree": "1%",
      },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      // Faster than the defaults, so a test sees pod and node changes sooner.
      syncFrequency: "10s",
      nodeStatusUpdateFrequency: "5s",
      fileCheckFrequency: "5s",
      shutdownGracePeriod: "0s",
      shutdownGracePeriodCriticalPods: "0s",
      protectKernelDefaults: false,
      localStorageCapacityIsolation: true,
      maxPods: 50,
    },
    null,
    2,
  )}\n`;
}

export function kubeProxyConfig(kubeconfig: string, healthzPort: number, metricsPort: number): string {
  return `${JSON.stringify(
    {
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      clientConnection: { kubeconfig },
      mode: "iptables",
      clusterCIDR: CLUSTER_CIDR,
      hostnameOverride: "real-node-0",
      bindAddress: CONTROL_PLANE_IP,
      healthzBindAddress: `127.0.0.1:${String(healthzPort)}`,
      metricsBindAddress: `127.0.0.1:${String(metricsPort)}`,
      // One bridge per node without br_netfilter guarantees: masquerade Service traffic so replies
      // always come back through the namespace's stack (hairpin to a pod on the same bridge).
      iptables: { masqueradeAll: true, syncPeriod: "10s", minSyncPeriod: "0s", localhostNodePorts: false },
      // Conntrack tables are machine-wide: leave them alone (0 = do not touch).
      conntrack: {
        maxPerCore: 0,
        min: 0,
        tcpEstablishedTimeout: "0s",
        tcpCloseWaitTimeout: "0s",
      },
    },
    null,
    2,
  )}\n`;
}

export const COREDNS_COREFILE = `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }
    cache 5
    loadbalance
}
`;

/** CoreDNS as a cluster add-on, like kubeadm's (RBAC, ConfigMap, Deployment, kube-dns Service). */
export function corednsManifests(image: string, replicas: number): object[] {
  const labels = { "k8s-app": "kube-dns" };
  const ns = "kube-system";
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "coredns", namespace: ns } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "system:coredns" },
      rules: [
        {
          apiGroups: [""],
          resources: ["endpoints", "services", "pods", "namespaces"],
          verbs: ["list", "watch"],
        },
        { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "system:coredns" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
      subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: ns }],
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "coredns", namespace: ns },
      data: { Corefile: COREDNS_COREFILE },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", namespace: ns, labels },
      spec: {
        replicas,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: "coredns",
            priorityClassName: "system-cluster-critical",
            dnsPolicy: "Default",
            tolerations: [{ key: "CriticalAddonsOnly", operator: "Exists" }],
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: "kubernetes.io/hostname",
                whenUnsatisfiable: "ScheduleAnyway",
                labelSelector: { matchLabels: labels },
              },
            ],
            containers: [
              {
                name: "coredns",
                image,
                imagePullPolicy: "Never",
                args: ["-conf", "/etc/coredns/Corefile"],
                // Port 53 needs NET_BIND_SERVICE; the scratch image has no file capabilities.
                securityContext: { runAsUser: 0, capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] } },
                resources: { requests: { cpu: "10m", memory: "20Mi" }, limits: { memory: "100Mi" } },
                ports: [
                  { name: "dns", containerPort: 53, protocol: "UDP" },
                  { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                ],
                volumeMounts: [{ name: "config", mountPath: "/etc/coredns", readOnly: true }],
                readinessProbe: { httpGet: { path: "/ready", port: 8181 }, periodSeconds: 2 },
                livenessProbe: { httpGet: { path: "/health", port: 8080 }, periodSeconds: 10 },
              },
            ],
            volumes: [{ name: "config", configMap: { name: "coredns" } }],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kube-dns", namespace: ns, labels },
      spec: {
        clusterIP: CLUSTER_DNS_IP,
        selector: labels,
        ports: [
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
          { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
        ],
      },
    },
  ];
}
