"""Deployment files, checked statically (docker is not runnable here, nor a cluster):

* deploy/k8s/*.yaml against the Kubernetes 1.37 JSON schemas (strict) shipped inside the
  ``kubernetes-validate`` wheel, with the network switched off to prove they are read offline;
* the probes, resources, autoscaler target and commands the README's Deployment section promises;
* the compose file's services and the environment of both against the real ``Settings``;
* the Dockerfile: every COPY source exists, the same no-deps wheels as the Makefile, the single-cv2
  check, a build-time model load (nothing downloaded at start), a non-root user, /health checked.
"""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from kycguard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.37.0"


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, (kind, name)
    return found[0]


def test_manifests_match_the_kubernetes_schemas_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import kubernetes_validate

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("schema validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    docs = manifests()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Deployment",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Service",
        ]
    )
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    broken = by_kind("Deployment", "kycguard-api")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 8000
    with pytest.raises(kubernetes_validate.ValidationError):  # the validator does reject typos
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_api_probes_resources_and_autoscaler() -> None:
    api = by_kind("Deployment", "kycguard-api")["spec"]["template"]["spec"]
    container = api["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["ports"] == [{"name": "http", "containerPort": 8000}]
    requests = container["resources"]["requests"]
    assert requests["cpu"] == "1" and re.fullmatch(r"\d+Mi", requests["memory"])
    assert container["command"][:2] == ["kycguard", "serve"]
    assert api["initContainers"][0]["command"] == ["kycguard", "db", "upgrade"]
    hpa = by_kind("HorizontalPodAutoscaler", "kycguard-api")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "kycguard-api",
    }
    assert hpa["minReplicas"] >= 2
    worker = by_kind("Deployment", "kycguard-worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"][:2] == ["kycguard", "worker"]
    service = by_kind("Service", "kycguard-api")["spec"]
    assert (
        service["selector"]
        == by_kind("Deployment", "kycguard-api")["spec"]["selector"]["matchLabels"]
    )


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for k, v in env.items():
        if k.startswith("KYCGUARD_"):
            monkeypatch.setenv(k, v)
    return Settings()


def test_configmap_and_compose_environment_are_valid_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = by_kind("ConfigMap", "kycguard-config")["data"]
    settings = _settings_from(config, monkeypatch)
    assert settings.scale.heavy_threads == 1
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"api", "worker", "postgres", "redis", "migrate"} <= set(compose["services"])
    env = dict(compose["x-kycguard"]["environment"])
    env["KYCGUARD_DATA_KEYS"] = "k1:" + "A" * 43 + "="
    settings = _settings_from(env, monkeypatch)
    assert settings.effective_database_url.startswith("postgresql+psycopg://")
    assert settings.security.redis_url is not None and settings.scale.broker_url is not None
    services = compose["services"]
    assert services["api"]["command"][:2] == ["kycguard", "serve"]
    assert services["worker"]["command"] == ["kycguard", "worker"]
    assert services["migrate"]["command"] == ["kycguard", "db", "upgrade"]
    for name in ("api", "worker"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_dockerfile_statically() -> None:
    steps = _instructions()
    ops = [op for op, _ in steps]
    assert ops.count("FROM") == 2 and all(re.search(r":\d", a) for o, a in steps if o == "FROM")
    for op, arg in steps:
        if op == "COPY" and not arg.startswith("--from"):
            for source in shlex.split(arg)[:-1]:
                assert (ROOT / source).exists(), source
    runs = " ".join(a for o, a in steps if o == "RUN")
    nodeps = re.search(r"^NODEPS := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert nodeps and f"--no-deps {nodeps.group(1).strip()}" in runs  # same wheels, one cv2
    assert "check_single_cv2.py" in runs
    assert "pip install ." in runs and "[dev" not in runs and "[models" not in runs
    assert "build_vision" in runs  # models load at build time, from the wheels
    user = [a for o, a in steps if o == "USER"]
    assert user and user[-1] not in ("root", "0")
    start = " ".join(a for o, a in steps if o in ("CMD", "ENTRYPOINT", "HEALTHCHECK"))
    assert "/health" in start
    assert not re.search(r"\b(pip|curl|wget|download)\b", start)  # nothing fetched at start
    assert steps[-1] == ("CMD", '["kycguard", "serve"]')
