"""The Kubernetes backend against a fake kube-apiserver on 127.0.0.1 that checks every request.

The fake serves only what the backend may call: the bot Deployment's scale subresource (get, patch)
and its pods (patch, delete), under a Role granting just those verbs. It answers like the real API
(``Status`` bodies, 409 on a stale ``resourceVersion``, ``spec: {}`` at 0 replicas); a request the
real API would take but the backend must not send (a strategic merge patch, a patch of more than the
deletion cost, a scale patch without ``resourceVersion``, a lost bot's pod deleted with a grace period
or a stopped one's deleted without its own) is answered 400 and recorded as a violation, and every test
ends by checking there were none.
"""

import datetime
import ipaddress
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes_asyncio.config import ConfigException, incluster_config
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from bot_orchestrator.pool.kubernetes import (
    BUSY_COST,
    DELETION_COST,
    IDLE_COST,
    STOP_COST,
    KubernetesBackend,
    KubernetesUnavailable,
)
from bot_orchestrator.pool.ports import BotBackend, Scaling
from voice_shared.testing import serving

pytestmark = pytest.mark.integration

NAMESPACE = "voice"
DEPLOYMENT = "bot"
SCALE = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}/scale"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods/"
MERGE_PATCH = "application/merge-patch+json"
TOKEN = "orchestrator-sa-token-0123"  # the kubeconfig's user; anything else is 401
ROLE = {("get", "deployments/scale"), ("patch", "deployments/scale"), ("patch", "pods"), ("delete", "pods")}
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:bot-orchestrator"


def pod_name() -> str:
    return f"{DEPLOYMENT}-{uuid.uuid4().hex[:10]}-{uuid.uuid4().hex[:5]}"


def pod(name: str) -> str:
    return PODS + name


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: Any


class FakeKubeApiServer:
    """One Deployment (replicas, resourceVersion) and its pods' annotations, by pod name."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.replicas = 2
        self.resource_version = 100
        self.pods: dict[str, dict[str, str]] = {}
        self.allowed = set(ROLE)
        self.interfere = 0  # this many next scale reads are followed by another writer's change
        self.ending: set[str] = set()  # pods that end on their own right after their next patch
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.url = ""  # known once it listens

    # --- what tests ask it ----------------------------------------------------------------------

    def add_pods(self, count: int) -> list[str]:
        names = [pod_name() for _ in range(count)]
        self.pods.update({name: {} for name in names})
        return names

    def trail(self) -> list[str]:
        return [f"{c.method} {c.path}" for c in self.calls]

    def costs(self) -> list[tuple[str, str]]:
        """(pod, deletion cost) of every pod patch, in order."""
        return [(c.path.removeprefix(PODS), c.body["metadata"]["annotations"][DELETION_COST])
                for c in self.calls if c.method == "PATCH" and c.path.startswith(PODS)]

    # --- the API --------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        call = Call(request.method, request.url.path, dict(request.query_params),
                    request.headers.get("content-type"), json.loads(raw) if raw else None)
        self.calls.append(call)
        response = self._answer(call, request.headers.get("authorization"))
        await response(scope, receive, send)

    def _answer(self, call: Call, authorization: str | None) -> JSONResponse:
        if authorization != f"Bearer {self.token}":
            return status(401, "Unauthorized", "Unauthorized")
        if call.path == SCALE and call.method in ("GET", "PATCH"):
            kind, group, name, resource = "deployments.apps", "apps", DEPLOYMENT, "deployments/scale"
        elif call.path.startswith(PODS) and call.method in ("PATCH", "DELETE"):
            kind, group, name, resource = "pods", "", call.path.removeprefix(PODS), "pods"
        else:
            return self._violation(call, "not an endpoint the backend needs")
        verb = call.method.lower()
        if (verb, resource) not in self.allowed:
            return status(403, "Forbidden", f'{kind} "{name}" is forbidden: User "{SERVICE_ACCOUNT}" cannot '
                                            f'{verb} resource "{resource}" in API group "{group}" in the namespace '
                                            f'"{NAMESPACE}"')
        if resource == "deployments/scale":
            return self._read_scale() if verb == "get" else self._patch_scale(call)
        if name not in self.pods:
            return status(404, "NotFound", f'pods "{name}" not found')
        return self._patch_pod(call, name) if verb == "patch" else self._delete_pod(call, name)

    def _scale(self) -> JSONResponse:
        return JSONResponse({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE, "resourceVersion": str(self.resource_version)},
            "spec": {"replicas": self.replicas} if self.replicas else {},  # omitempty, as the API does
            "status": {"replicas": self.replicas, "selector": f"app.kubernetes.io/name={DEPLOYMENT}"},
        })

    def _read_scale(self) -> JSONResponse:
        answer = self._scale()
        if self.interfere:
            self.interfere -= 1
            self.resource_version += 1  # e.g. a rollout: the version just read is stale now
        return answer

    def _patch_scale(self, call: Call) -> JSONResponse:
        body = call.body
        if call.content_type != MERGE_PATCH:
            return self._violation(call, f"a scale patch must be {MERGE_PATCH}, not {call.content_type}")
        if (not isinstance(body, dict) or body.keys() != {"metadata", "spec"}
                or body["metadata"].keys() != {"resourceVersion"} or body["spec"].keys() != {"replicas"}
                or not isinstance(body["spec"]["replicas"], int) or body["spec"]["replicas"] < 0):
            return self._violation(call, f"a scale patch carries resourceVersion and replicas only, not {body}")
        if body["metadata"]["resourceVersion"] != str(self.resource_version):
            return status(409, "Conflict", f'Operation cannot be fulfilled on deployments.apps "{DEPLOYMENT}": the '
                                           "object has been modified; please apply your changes to the latest "
                                           "version and try again")
        self.replicas = body["spec"]["replicas"]
        self.resource_version += 1
        return self._scale()

    def _patch_pod(self, call: Call, name: str) -> JSONResponse:
        if call.content_type != MERGE_PATCH:
            return self._violation(call, f"a pod patch must be {MERGE_PATCH}, not {call.content_type}")
        annotations = (call.body or {}).get("metadata", {}).get("annotations", {})
        if call.body != {"metadata": {"annotations": {DELETION_COST: annotations.get(DELETION_COST)}}}:
            return self._violation(call, f"a pod patch sets the deletion cost only, not {call.body}")
        if not str(annotations[DELETION_COST]).lstrip("-").isdigit():
            return self._violation(call, f"a deletion cost is an integer in a string, not {annotations}")
        self.pods[name].update(annotations)
        answer = JSONResponse({"kind": "Pod", "apiVersion": "v1",
                               "metadata": {"name": name, "namespace": NAMESPACE, "annotations": self.pods[name]}})
        if name in self.ending:
            self.ending.discard(name)
            del self.pods[name]
            self.add_pods(1)
        return answer

    def _delete_pod(self, call: Call, name: str) -> JSONResponse:
        """A pod marked to stop is let go gracefully (its terminationGracePeriodSeconds); any other is lost."""
        grace = call.query.get("gracePeriodSeconds", (call.body or {}).get("gracePeriodSeconds"))
        if self.pods[name].get(DELETION_COST) == STOP_COST:
            if grace is not None:
                return self._violation(call, f"a stopped bot's pod is deleted with its own grace period, not {grace}")
        elif str(grace) != "0":
            return self._violation(call, f"a lost bot's pod is deleted with grace 0, not {grace}")
        del self.pods[name]
        self.add_pods(1)  # the ReplicaSet's replacement
        return JSONResponse({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "namespace": NAMESPACE}})

    def _violation(self, call: Call, what: str) -> JSONResponse:
        self.violations.append(f"{call.method} {call.path}: {what}")
        return status(400, "BadRequest", f"fake kube-apiserver: {what}")


def status(code: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": message, "reason": reason, "code": code}, status_code=code)


def write_kubeconfig(path: Path, server: str) -> str:
    """Two contexts on ``server``: ``fake`` (current, the right token) and ``stale`` (an old token)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "orchestrator", "user": {"token": TOKEN}},
                  {"name": "old", "user": {"token": "revoked-token"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "orchestrator", "namespace": NAMESPACE}},
                     {"name": "stale", "context": {"cluster": "fake", "user": "old", "namespace": NAMESPACE}}],
    }))
    return str(path)


@pytest.fixture
async def fake() -> AsyncIterator[FakeKubeApiServer]:
    server = FakeKubeApiServer()
    async with serving(server) as url:
        server.url = url
        yield server
    assert server.violations == []


@pytest.fixture
async def backend(fake: FakeKubeApiServer, tmp_path: Path) -> AsyncIterator[KubernetesBackend]:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", fake.url)
    opened = await KubernetesBackend(NAMESPACE, DEPLOYMENT, kubeconfig=kubeconfig).open()
    yield opened
    await opened.aclose()


async def test_it_is_a_bot_backend(backend: KubernetesBackend) -> None:
    port: BotBackend = backend
    assert port.name == "kubernetes"
    assert await backend.exited() == []


async def test_size_is_the_deployments_replicas_from_the_scale_subresource(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 3
    assert await backend.size() == 3
    fake.replicas = 0  # the API then sends "spec": {}
    assert await backend.size() == 0
    assert fake.trail() == [f"GET {SCALE}"] * 2


async def test_scale_up_patches_replicas_with_the_resource_version_it_read(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas, read_version = 1, str(fake.resource_version)

    assert await backend.scale(Scaling(replicas=3, start=2)) == []

    assert fake.trail() == [f"GET {SCALE}", f"PATCH {SCALE}"]
    patch = fake.calls[-1]
    assert patch.content_type == MERGE_PATCH
    assert patch.body == {"metadata": {"resourceVersion": read_version}, "spec": {"replicas": 3}}
    assert fake.replicas == 3 and await backend.size() == 3


async def test_scale_to_the_size_it_has_reads_and_does_not_patch(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 2
    await backend.scale(Scaling(replicas=2))
    assert fake.trail() == [f"GET {SCALE}"]


async def test_scale_down_marks_the_pods_to_stop_cheapest_before_patching_the_scale(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 3
    old, older, kept = fake.add_pods(3)

    await backend.scale(Scaling(replicas=1, stop=(old, older)))

    assert fake.trail() == [f"PATCH {pod(old)}", f"PATCH {pod(older)}", f"GET {SCALE}", f"PATCH {SCALE}"]
    assert fake.costs() == [(old, STOP_COST), (older, STOP_COST)]
    assert all(c.content_type == MERGE_PATCH for c in fake.calls if c.method == "PATCH")
    assert fake.pods[old] == fake.pods[older] == {DELETION_COST: "-1000"} and fake.pods[kept] == {}
    assert fake.replicas == 1


async def test_busy_pods_are_protected_once_and_released_when_idle_again(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 3
    a, b, c = fake.add_pods(3)

    await backend.scale(Scaling(replicas=3, busy=(a, b)))
    await backend.scale(Scaling(replicas=3, busy=(a, b)))  # already protected: no patch
    assert fake.costs() == [(a, BUSY_COST), (b, BUSY_COST)]

    await backend.scale(Scaling(replicas=3, busy=(b, c)))  # a went idle, c got an interview
    assert fake.costs()[2:] == [(c, BUSY_COST), (a, IDLE_COST)]

    await backend.scale(Scaling(replicas=2, busy=(c,), stop=(b,)))  # b went idle and is let go: no 0 first
    assert fake.costs()[4:] == [(b, STOP_COST)]
    assert fake.pods == {a: {DELETION_COST: "0"}, b: {DELETION_COST: "-1000"}, c: {DELETION_COST: "1000"}}
    assert fake.replicas == 2


async def test_a_busy_pod_is_never_marked_to_stop(fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 2
    busy, idle = fake.add_pods(2)
    await backend.scale(Scaling(replicas=1, busy=(busy,), stop=(busy, idle)))
    assert fake.costs() == [(busy, BUSY_COST), (idle, STOP_COST)]
    assert not any(c.method == "DELETE" for c in fake.calls)  # the scale-down removes the one idle pod


async def test_a_recycled_pod_is_marked_then_deleted_gracefully_and_the_replicas_stay(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 2
    worn, kept = fake.add_pods(2)

    await backend.scale(Scaling(replicas=2, start=1, stop=(worn,)))

    assert fake.trail() == [f"PATCH {pod(worn)}", f"GET {SCALE}", f"DELETE {pod(worn)}"]  # no scale patch
    assert fake.costs() == [(worn, STOP_COST)]
    delete = fake.calls[-1]
    assert delete.query == {} and delete.body is None  # no gracePeriodSeconds: the worker drains on SIGTERM
    assert worn not in fake.pods and kept in fake.pods and len(fake.pods) == 2  # the ReplicaSet's replacement
    assert fake.replicas == 2


async def test_stop_pods_beyond_the_scale_down_are_all_deleted_then_the_scale_patched(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 3
    older, old, kept = fake.add_pods(3)

    await backend.scale(Scaling(replicas=2, start=1, stop=(older, old)))  # shrinks by 1, stops 2

    assert fake.trail() == [f"PATCH {pod(older)}", f"PATCH {pod(old)}", f"GET {SCALE}", f"DELETE {pod(older)}",
                            f"DELETE {pod(old)}", f"PATCH {SCALE}"]
    assert older not in fake.pods and old not in fake.pods and kept in fake.pods
    assert fake.replicas == 2


async def test_a_step_that_grows_deletes_every_pod_it_stops(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 2
    older, old = fake.add_pods(2)

    await backend.scale(Scaling(replicas=3, start=3, stop=(older, old)))

    assert fake.trail() == [f"PATCH {pod(older)}", f"PATCH {pod(old)}", f"GET {SCALE}", f"DELETE {pod(older)}",
                            f"DELETE {pod(old)}", f"PATCH {SCALE}"]
    assert older not in fake.pods and old not in fake.pods and fake.replicas == 3


async def test_a_recycled_pod_that_ends_before_its_delete_is_fine(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 2
    ending, gone = fake.add_pods(1)[0], pod_name()  # gone: not in the fake, its patch is a 404
    fake.ending.add(ending)

    await backend.scale(Scaling(replicas=2, start=2, stop=(ending, gone)))

    assert fake.trail() == [f"PATCH {pod(ending)}", f"PATCH {pod(gone)}", f"GET {SCALE}",
                            f"DELETE {pod(ending)}"]  # a 404, ignored; the gone pod is not deleted at all
    assert fake.replicas == 2


async def test_pods_that_are_gone_are_skipped(fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 2
    gone, stopped = pod_name(), pod_name()  # not in the fake: 404
    await backend.scale(Scaling(replicas=1, busy=(gone,), stop=(stopped,)))
    assert fake.trail() == [f"PATCH {pod(gone)}", f"PATCH {pod(stopped)}", f"GET {SCALE}", f"PATCH {SCALE}"]
    assert fake.replicas == 1


async def test_a_concurrent_change_is_retried_with_the_new_resource_version(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas, fake.interfere = 2, 1
    first_read = str(fake.resource_version)

    await backend.scale(Scaling(replicas=4, start=2))

    assert fake.trail() == [f"GET {SCALE}", f"PATCH {SCALE}", f"GET {SCALE}", f"PATCH {SCALE}"]
    stale, fresh = (c.body["metadata"]["resourceVersion"] for c in fake.calls if c.method == "PATCH")
    assert stale == first_read and int(fresh) == int(first_read) + 1
    assert fake.replicas == 4


async def test_a_persistent_conflict_is_a_clear_error(fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas, fake.interfere = 2, 1_000

    with pytest.raises(KubernetesUnavailable) as error:
        await backend.scale(Scaling(replicas=5, start=3))

    assert error.value.status == 409 and error.value.verb == "PATCH" and error.value.path == SCALE
    assert str(error.value).startswith(f"Kubernetes PATCH {SCALE}: 409 Conflict ")
    assert "times in a row" in str(error.value)
    patches = [c for c in fake.calls if c.method == "PATCH"]
    assert 1 < len(patches) == len(fake.calls) // 2 and fake.replicas == 2


async def test_kill_deletes_the_pod_with_no_grace_and_a_gone_pod_is_fine(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    [lost] = fake.add_pods(1)

    await backend.kill(lost)
    await backend.kill(lost)  # 404 now: already gone

    assert fake.trail() == [f"DELETE {pod(lost)}"] * 2
    assert fake.calls[0].query == {"gracePeriodSeconds": "0"} and fake.calls[0].body is None
    assert lost not in fake.pods and len(fake.pods) == 1  # the ReplicaSet's replacement


async def test_a_killed_busy_pod_is_not_released_later(fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.replicas = 1
    [lost] = fake.add_pods(1)
    await backend.scale(Scaling(replicas=1, busy=(lost,)))
    await backend.kill(lost)
    await backend.scale(Scaling(replicas=1))
    assert fake.costs() == [(lost, BUSY_COST)]


async def test_forbidden_is_unavailable_and_says_what_the_api_said(
        fake: FakeKubeApiServer, backend: KubernetesBackend) -> None:
    fake.allowed.discard(("patch", "deployments/scale"))
    fake.replicas = 1

    with pytest.raises(KubernetesUnavailable) as error:
        await backend.scale(Scaling(replicas=2, start=1))

    assert error.value.status == 403
    message = str(error.value)
    assert message.startswith(f"Kubernetes PATCH {SCALE}: 403 Forbidden: ")
    assert f'User "{SERVICE_ACCOUNT}" cannot patch resource "deployments/scale"' in message
    assert "get and patch on deployments/scale, patch and delete on pods" in message
    assert fake.trail() == [f"GET {SCALE}", f"PATCH {SCALE}"]  # a 403 is not retried


async def test_the_kubeconfig_context_is_used(fake: FakeKubeApiServer, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", fake.url)
    stale = await KubernetesBackend(NAMESPACE, DEPLOYMENT, kubeconfig=kubeconfig, context="stale").open()
    try:
        with pytest.raises(KubernetesUnavailable, match=f"^Kubernetes GET {SCALE}: 401 Unauthorized"):
            await stale.size()
    finally:
        await stale.aclose()


async def test_an_api_server_that_does_not_answer_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    backend = await KubernetesBackend(NAMESPACE, DEPLOYMENT, kubeconfig=kubeconfig).open()
    try:
        with pytest.raises(KubernetesUnavailable, match=f"^Kubernetes GET {SCALE}: no answer") as error:
            await backend.size()
        assert error.value.status is None
    finally:
        await backend.aclose()


async def test_nothing_connects_before_open_and_nothing_works_after_aclose(
        fake: FakeKubeApiServer, tmp_path: Path) -> None:
    backend = KubernetesBackend(NAMESPACE, DEPLOYMENT, kubeconfig=str(tmp_path / "not-written-yet"))
    with pytest.raises(RuntimeError, match="not open"):
        await backend.size()

    write_kubeconfig(tmp_path / "not-written-yet", fake.url)
    await backend.open()
    assert await backend.size() == 2
    await backend.aclose()
    await backend.aclose()  # idempotent

    with pytest.raises(RuntimeError, match="not open"):
        await backend.kill(pod_name())
    assert fake.trail() == [f"GET {SCALE}"]


async def test_a_missing_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigException, match=f"No Kubernetes credentials: kubeconfig {missing}"):
        await KubernetesBackend(NAMESPACE, DEPLOYMENT, kubeconfig=str(missing)).open()


# --- in a pod: the service account, over TLS --------------------------------------------------------


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, the certificate standing as its own CA (like ca.crt)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "ca.crt", directory / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


async def test_in_a_pod_it_uses_the_service_account_token_and_ca(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = self_signed(tmp_path)
    token = tmp_path / "token"
    token.write_text("in-cluster-token")
    fake = FakeKubeApiServer(token="in-cluster-token")
    async with serving(fake, ssl_certfile=str(cert), ssl_keyfile=str(key)) as url:
        port = url.rsplit(":", 1)[1]
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(port))
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(token))
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(cert))
        backend = await KubernetesBackend(NAMESPACE, DEPLOYMENT).open()
        try:
            assert await backend.size() == 2
        finally:
            await backend.aclose()
    assert fake.trail() == [f"GET {SCALE}"] and fake.violations == []
