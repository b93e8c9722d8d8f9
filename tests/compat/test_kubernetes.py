"""The Kubernetes manifests (deploy/kubernetes/), judged by the ecosystem's
own tools: rendered by kubectl's kustomize, every object validated against
the Kubernetes API schemas (kubernetes-validate, strict: an unknown or
misspelt field fails), then read for what the daemon needs of them. No
daemon and no cluster: skipped where kubectl is missing."""

import os
import re
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from conftest import ROOT

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl is not on PATH: the Kubernetes manifests are rendered with `kubectl kustomize`",
)

# The Kubernetes version whose schemas the objects are validated against
# (one that kubernetes-validate bundles).
K8S_VERSION = "1.32"
PORT = 8002

# (kustomization directory, replicas it sets)
LAYOUTS = [("base", 3), ("overlays/example", 5)]
IDS = [d for d, _ in LAYOUTS]

_rendered = {}


def render(layout):
    """The objects `kubectl kustomize` makes of deploy/kubernetes/<layout>."""
    if layout not in _rendered:
        path = os.path.join(ROOT, "deploy", "kubernetes", layout)
        r = subprocess.run([KUBECTL, "kustomize", path], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"kubectl kustomize {layout} failed:\n{r.stderr}"
        _rendered[layout] = [o for o in yaml.safe_load_all(r.stdout) if o]
    return _rendered[layout]


def the(objs, kind, name=None):
    found = [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"want one {kind} {name or ''}, have {[o['metadata']['name'] for o in found]}"
    return found[0]


def container(sts):
    cs = sts["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1, [c["name"] for c in cs]
    return cs[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def selects(selector, labels):
    assert selector, "an empty selector"
    return all(labels.get(k) == v for k, v in selector.items())


def expand(value, env):
    """Kubernetes' $(VAR) expansion in an env value, from the plain values
    declared before it."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)


@pytest.mark.parametrize("layout", IDS)
def test_every_object_validates_against_the_kubernetes_schemas(layout):
    objs = render(layout)
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == sorted(["Namespace", "ConfigMap", "Secret", "Service", "Service",
                            "StatefulSet", "PodDisruptionBudget"]), kinds
    for o in objs:
        name = f"{o['kind']}/{o['metadata']['name']}"
        try:
            got = kubernetes_validate.validate(o, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{layout}: {name} is not a valid Kubernetes {K8S_VERSION} object: {path}: {e.message}")
        assert got == K8S_VERSION, f"{name} was validated against {got}"


@pytest.mark.parametrize("layout", IDS)
def test_one_namespace_holds_everything(layout):
    objs = render(layout)
    ns = the(objs, "Namespace")["metadata"]["name"]
    assert ns == "wabridge"
    for o in objs:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == ns, f"{o['kind']}/{o['metadata']['name']}"


@pytest.mark.parametrize("layout", IDS)
def test_statefulset_probes_volume_and_security(layout):
    objs = render(layout)
    sts = the(objs, "StatefulSet", "wabridge")
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    c = container(sts)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports.get("http") == PORT, ports

    def probe(kind):
        p = c.get(kind)
        assert p and "httpGet" in p, f"no HTTP {kind}"
        assert p["httpGet"]["port"] in ("http", PORT), p
        return p["httpGet"]["path"]

    assert probe("livenessProbe") == "/health"
    assert probe("readinessProbe") == "/ready"
    assert probe("startupProbe") == "/health"
    # Restoring sessions may take minutes: the startup probe gives it time.
    start = c["startupProbe"]
    assert start.get("periodSeconds", 10) * start.get("failureThreshold", 3) >= 120, start

    assert spec["serviceName"] == "wabridge-peers"
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"]["type"] == "RollingUpdate"
    assert pod["terminationGracePeriodSeconds"] >= 30

    # The sessions' volume, from a claim template, at the image's data dir.
    claims = {t["metadata"]["name"]: t for t in spec["volumeClaimTemplates"]}
    assert "sessions" in claims, list(claims)
    assert claims["sessions"]["spec"]["accessModes"] == ["ReadWriteOnce"]
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    assert mounts["/sessions"]["name"] == "sessions"
    assert "sessions" not in {v["name"] for v in pod.get("volumes", [])}, "a pod volume shadows the claim"

    # Security: not root, nothing to escalate to, a read-only root with
    # writable scratch space for Chromium.
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == 10001
    assert psc["runAsGroup"] == 10001
    assert psc["fsGroup"] == 10001
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    csc = c["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["capabilities"]["drop"] == ["ALL"]
    assert not csc["capabilities"].get("add")
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    shm = volumes[mounts["/dev/shm"]["name"]]["emptyDir"]
    assert shm["medium"] == "Memory" and shm["sizeLimit"] == "256Mi"

    # A memory limit, no CPU limit (Chromium bursts).
    res = c["resources"]
    assert res["requests"]["cpu"] == "500m" and res["requests"]["memory"] == "1Gi"
    assert res["limits"]["memory"] == "4Gi"
    assert "cpu" not in res["limits"]

    ann = sts["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert ann["prometheus.io/port"] == str(PORT)
    assert ann["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("layout", IDS)
def test_env_names_the_keys_the_peers_file_and_this_peer(layout):
    objs = render(layout)
    sts = the(objs, "StatefulSet", "wabridge")
    c = container(sts)
    env = env_of(c)
    names = [e["name"] for e in c["env"]]
    for required in ("WABRIDGE_API_KEY", "WABRIDGE_CLUSTER_KEY", "WABRIDGE_PEERS_FILE", "WABRIDGE_SELF"):
        assert required in env, f"{required} missing from {names}"

    # Both keys from the Secret that the output holds, under the keys it has.
    secret = the(objs, "Secret", "wabridge-keys")
    secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    for var, key in (("WABRIDGE_API_KEY", "api-key"), ("WABRIDGE_CLUSTER_KEY", "cluster-key")):
        ref = env[var].get("valueFrom", {}).get("secretKeyRef")
        assert ref, f"{var} is not from a secretKeyRef: {env[var]}"
        assert ref["name"] == "wabridge-keys" and ref["key"] == key, ref
        assert key in secret_keys, f"the Secret has no {key}"
    for value in secret.get("stringData", {}).values():
        assert value.startswith("change-me"), "a real-looking key in the example Secret"

    # The peers file is the ConfigMap's `peers`, mounted as a directory (a
    # subPath mount never sees the ConfigMap change).
    path = env["WABRIDGE_PEERS_FILE"]["value"]
    assert path == "/etc/wabridge/peers"
    mount = next((m for m in c["volumeMounts"] if m["mountPath"] == os.path.dirname(path)), None)
    assert mount, f"nothing mounted at {os.path.dirname(path)}"
    assert "subPath" not in mount
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "wabridge-peers"
    assert "peers" in the(objs, "ConfigMap", "wabridge-peers")["data"]

    # WABRIDGE_SELF from the downward API, declared after what it expands.
    for var, field in (("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace")):
        assert env[var]["valueFrom"]["fieldRef"]["fieldPath"] == field
        assert names.index(var) < names.index("WABRIDGE_SELF"), f"{var} must come before WABRIDGE_SELF"
    assert env["WABRIDGE_SELF"]["value"] == (
        f"http://$(POD_NAME).wabridge-peers.$(POD_NAMESPACE).svc.cluster.local:{PORT}")
    assert env["WABRIDGE_LOG_FORMAT"]["value"] == "json"


@pytest.mark.parametrize("layout,replicas", LAYOUTS, ids=IDS)
def test_peers_list_every_replica_in_order(layout, replicas):
    objs = render(layout)
    sts = the(objs, "StatefulSet", "wabridge")
    assert sts["spec"]["replicas"] == replicas
    ns = sts["metadata"]["namespace"]
    cm = the(objs, "ConfigMap", "wabridge-peers")
    lines = cm["data"]["peers"].splitlines()
    want = [f"http://wabridge-{i}.wabridge-peers.{ns}.svc.cluster.local:{PORT}" for i in range(replicas)]
    assert lines == want
    # Each pod finds itself in the list: WABRIDGE_SELF as the kubelet
    # expands it for pod i is line i.
    self_url = env_of(container(sts))["WABRIDGE_SELF"]["value"]
    for i in range(replicas):
        assert expand(self_url, {"POD_NAME": f"{sts['metadata']['name']}-{i}", "POD_NAMESPACE": ns}) == lines[i]


@pytest.mark.parametrize("layout", IDS)
def test_services_and_disruption_budget_select_the_pods(layout):
    objs = render(layout)
    sts = the(objs, "StatefulSet", "wabridge")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert selects(sts["spec"]["selector"]["matchLabels"], labels)

    peers = the(objs, "Service", "wabridge-peers")["spec"]
    assert peers["clusterIP"] == "None"
    assert peers["publishNotReadyAddresses"] is True
    assert selects(peers["selector"], labels)

    client = the(objs, "Service", "wabridge")["spec"]
    assert client.get("type", "ClusterIP") == "ClusterIP"
    assert client.get("clusterIP") != "None"
    assert [p["port"] for p in client["ports"]] == [PORT]
    assert selects(client["selector"], labels)

    pdb = the(objs, "PodDisruptionBudget")["spec"]
    assert pdb["maxUnavailable"] == 1
    assert selects(pdb["selector"]["matchLabels"], labels)


def test_overlay_has_five_peers_on_fast_ssd():
    sts = the(render("overlays/example"), "StatefulSet", "wabridge")
    assert sts["spec"]["replicas"] == 5
    claim = next(t for t in sts["spec"]["volumeClaimTemplates"] if t["metadata"]["name"] == "sessions")
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    # The base itself names no class: the cluster's default.
    base = the(render("base"), "StatefulSet", "wabridge")
    assert "storageClassName" not in base["spec"]["volumeClaimTemplates"][0]["spec"]
    assert base["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
