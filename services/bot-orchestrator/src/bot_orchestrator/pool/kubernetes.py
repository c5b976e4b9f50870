"""The bot pool on Kubernetes: the bot Deployment's replicas, set through its scale subresource.

The ReplicaSet, not this backend, picks the pods a scale-down removes. The backend steers it with the
``controller.kubernetes.io/pod-deletion-cost`` annotation: busy bots cost 1000, the idle bots a step
lets go -1000, so those go first and busy ones last. It is a hint: pods not scheduled or not ready
yet are still removed before any ready pod, whatever they cost.

A step may let go of more pods than its scale-down removes (the current replicas minus the step's, at
least 0): a recycle step stops a bot past its limits and starts its replacement, so the replicas stay.
Then every pod the step stops is deleted, after it is annotated and before the scale is patched. The
delete is graceful: the worker gets SIGTERM, drains and exits within the pod's
``terminationGracePeriodSeconds``. A ReplicaSet no longer counts a terminating pod, so it makes up the
difference to the new replicas with fresh pods; deleting only some and leaving the rest to the
scale-down could instead remove a fresh, not yet ready replacement.

Every call has a timeout; whatever the API server refuses (or leaves unanswered) and this backend does
not handle becomes ``KubernetesUnavailable``, and the orchestrator tries again on its next reconcile.
"""

import json
from collections.abc import Awaitable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
import structlog
from kubernetes_asyncio import config
from kubernetes_asyncio.client import ApiClient, AppsV1Api, Configuration, CoreV1Api, V1Scale
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.kube_config import KUBE_CONFIG_DEFAULT_LOCATION

from bot_orchestrator.pool.ports import Scaling

log = structlog.get_logger()

T = TypeVar("T")

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
BUSY_COST = "1000"
IDLE_COST = "0"
STOP_COST = "-1000"
CONFLICT_ATTEMPTS = 4
REQUEST_TIMEOUT_SECONDS = 10.0
# The generated methods accept ``_content_type`` but the package's stubs leave it out; a dict of Any
# passes it without an ignore. Without it a dict body goes as a strategic merge patch.
_MERGE_PATCH: dict[str, Any] = {"_content_type": "application/merge-patch+json"}
_RBAC_HINT = " Check the orchestrator's Role: get and patch on deployments/scale, patch and delete on pods."


class KubernetesUnavailable(Exception):
    """A call the API server refused or did not answer; ``status`` is None when there was no answer."""

    def __init__(self, verb: str, path: str, status: int | None, detail: str) -> None:
        self.verb = verb
        self.path = path
        self.status = status
        answer = "no answer" if status is None else str(status)
        super().__init__(f"Kubernetes {verb} {path}: {answer} {detail}".rstrip())


@dataclass(frozen=True)
class _Connection:
    client: ApiClient
    apps: AppsV1Api
    core: CoreV1Api


class KubernetesBackend:
    """Scales the bot Deployment ``deployment`` in ``namespace``; ``await open()`` before the first call.

    Auth: the pod's service account when ``kubeconfig`` is None and it runs in a cluster; else the
    kubeconfig file (``kubeconfig``, or ``$KUBECONFIG`` / ``~/.kube/config``) with its ``context``.
    """

    name = "kubernetes"

    def __init__(self, namespace: str, deployment: str, *, kubeconfig: str | None = None,
                 context: str | None = None) -> None:
        self._namespace = namespace
        self._deployment = deployment
        self._kubeconfig = kubeconfig
        self._context = context
        self._connection: _Connection | None = None
        self._busy: set[str] = set()  # pods this backend annotated BUSY_COST and has not released
        self._scale_path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}/scale"

    async def open(self) -> "KubernetesBackend":
        """Load the credentials and make the client (no request yet); returns the backend."""
        if self._connection is None:
            configuration = Configuration()
            await _load_config(configuration, self._kubeconfig, self._context)
            client = ApiClient(configuration)
            self._connection = _Connection(client, AppsV1Api(client), CoreV1Api(client))
        return self

    async def size(self) -> int:
        return _replicas(await self._read_scale())

    async def scale(self, step: Scaling) -> list[str]:
        busy = set(step.busy)
        for pod in step.busy:
            if pod not in self._busy and await self._set_cost(pod, BUSY_COST):
                self._busy.add(pod)
        for pod in sorted(self._busy - busy):
            if pod not in step.stop:
                await self._set_cost(pod, IDLE_COST)
            self._busy.discard(pod)
        stopping: list[str] = []  # oldest first, as the step lists them; a pod already gone needs nothing more
        for pod in step.stop:
            if pod not in busy and await self._set_cost(pod, STOP_COST):  # a busy bot survives the step
                stopping.append(pod)
        scale = await self._read_scale()
        scaled_away = max(0, _replicas(scale) - step.replicas)
        # More to stop than the scale-down removes (a recycle): delete them all. A ReplicaSet does not count
        # a pod being deleted, so deleting some and leaving the rest to the scale-down could remove the
        # fresh replacement instead; with all deleted, it makes up the difference to ``replicas``.
        if len(stopping) > scaled_away:
            for pod in stopping:
                await self._stop(pod)
        await self._set_replicas(step.replicas, scale)
        return []  # the new pods' names come with their first heartbeats

    async def kill(self, bot_id: str) -> None:
        """Delete the pod with no grace period; the ReplicaSet starts a new one in its place."""
        request = self._apis().core.delete_namespaced_pod(
            bot_id, self._namespace, grace_period_seconds=0, _request_timeout=REQUEST_TIMEOUT_SECONDS)
        await self._send_unless_gone("DELETE", self._pod_path(bot_id), request)
        self._busy.discard(bot_id)

    async def exited(self) -> list[str]:
        """Always []: Kubernetes replaces ended pods itself, and a bot that ended stops heartbeating."""
        return []

    async def aclose(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.client.close()

    # --- the calls -------------------------------------------------------------------------------

    async def _read_scale(self) -> V1Scale:
        request = self._apis().apps.read_namespaced_deployment_scale(
            self._deployment, self._namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS)
        return await self._send("GET", self._scale_path, request)

    async def _set_replicas(self, replicas: int, scale: V1Scale) -> None:
        """Patch ``scale`` with the resourceVersion it was read with (re-read on a conflict): no change is lost."""
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            if attempt > 1:
                scale = await self._read_scale()
            current = _replicas(scale)
            if current == replicas:
                return
            body = {"metadata": {"resourceVersion": scale.metadata.resource_version},
                    "spec": {"replicas": replicas}}
            request = self._apis().apps.patch_namespaced_deployment_scale(
                self._deployment, self._namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS, **_MERGE_PATCH)
            try:
                await self._send("PATCH", self._scale_path, request)
            except KubernetesUnavailable as error:
                if error.status != HTTPStatus.CONFLICT:
                    raise
                log.info("bot_deployment_scale_conflict", deployment=self._deployment, attempt=attempt)
                continue
            log.info("bot_deployment_scaled", deployment=self._deployment, replicas_before=current,
                     replicas=replicas)
            return
        raise KubernetesUnavailable(
            "PATCH", self._scale_path, HTTPStatus.CONFLICT,
            f"Conflict {CONFLICT_ATTEMPTS} times in a row: the Deployment kept changing between read and patch.")

    async def _stop(self, pod: str) -> None:
        """Delete the pod gracefully (its own grace period, SIGTERM first); the ReplicaSet replaces it."""
        request = self._apis().core.delete_namespaced_pod(
            pod, self._namespace, _request_timeout=REQUEST_TIMEOUT_SECONDS)
        if await self._send_unless_gone("DELETE", self._pod_path(pod), request):
            log.info("bot_pod_deleted", deployment=self._deployment, pod=pod)

    async def _set_cost(self, pod: str, cost: str) -> bool:
        """Annotate the pod's deletion cost; False when the pod is gone."""
        body = {"metadata": {"annotations": {DELETION_COST: cost}}}
        request = self._apis().core.patch_namespaced_pod(
            pod, self._namespace, body, _request_timeout=REQUEST_TIMEOUT_SECONDS, **_MERGE_PATCH)
        return await self._send_unless_gone("PATCH", self._pod_path(pod), request)

    async def _send_unless_gone(self, verb: str, path: str, request: Awaitable[object]) -> bool:
        try:
            await self._send(verb, path, request)
        except KubernetesUnavailable as error:
            if error.status != HTTPStatus.NOT_FOUND:
                raise
            return False
        return True

    @staticmethod
    async def _send(verb: str, path: str, request: Awaitable[T]) -> T:
        try:
            return await request
        except ApiException as error:
            hint = _RBAC_HINT if error.status == HTTPStatus.FORBIDDEN else ""
            raise KubernetesUnavailable(verb, path, error.status, _detail(error) + hint) from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubernetesUnavailable(verb, path, None, f"({type(error).__name__}: {error})") from error

    def _apis(self) -> _Connection:
        if self._connection is None:
            raise RuntimeError("KubernetesBackend is not open: await open() first (and not after aclose())")
        return self._connection

    def _pod_path(self, pod: str) -> str:
        return f"/api/v1/namespaces/{self._namespace}/pods/{pod}"


async def _load_config(configuration: Configuration, kubeconfig: str | None, context: str | None) -> None:
    """Into ``configuration`` only: the library's global default stays untouched."""
    not_in_cluster = ""
    if kubeconfig is None:
        try:
            # Re-reads the service account token as it rotates (the loader's refresh hook).
            config.load_incluster_config(client_configuration=configuration)
            return
        except config.ConfigException as error:
            not_in_cluster = f"not in a cluster ({error}); "  # then the default kubeconfig, as kubectl would
    try:
        # persist_config=False: a refreshed token is never written back into a (mounted) kubeconfig.
        await config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                      persist_config=False)
    except config.ConfigException as error:
        # The library says "Expected key current-context" for a file that does not exist too.
        path = kubeconfig or KUBE_CONFIG_DEFAULT_LOCATION
        message = f"No Kubernetes credentials: {not_in_cluster}kubeconfig {path}: {error}"
        raise config.ConfigException(message) from error


def _replicas(scale: V1Scale) -> int:
    # The API leaves spec.replicas out when it is 0.
    return (scale.spec.replicas if scale.spec is not None else None) or 0


def _detail(error: ApiException) -> str:
    """The status phrase and the message of the API's ``Status`` body, when it sent one."""
    reason = error.reason or ""
    body = error.body.decode(errors="replace") if isinstance(error.body, bytes) else error.body
    try:
        message = json.loads(body or "").get("message")
    except (ValueError, AttributeError):
        message = None
    return f"{reason}: {message}" if message else reason
