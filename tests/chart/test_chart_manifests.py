"""The Helm chart, rendered by the real helm binary for the default values and every example values
file: restricted Pod Security on every workload, probes, resources, NetworkPolicies, no inline secrets,
and a strict schema that refuses unknown keys and wrong types."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.catalog import all_topics
from services.common.settings import CommonSettings
from services.ingest.settings import IngestSettings
from services.notify.adapters.inbound.worker import NOTIFY_TOPICS
from services.notify.settings import NotifySettings
from services.profile.adapters.inbound.worker import PROFILE_TOPICS
from services.profile.settings import ProfileSettings
from services.routing.adapters.inbound.worker import ROUTING_TOPICS
from services.routing.settings import RoutingSettings

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "k8s" / "helhet"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))
VALUE_SETS = ["default", *(path.stem for path in EXAMPLES)]
COMPONENTS = ("ingest", "profile", "routing", "notify")
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|_URI)$")

Manifest = dict[str, Any]


def helm_binary() -> str:
    helm = os.environ.get("HELHET_HELM", "")
    if not helm or not Path(helm).is_file():
        pytest.fail("HELHET_HELM must name the helm binary (`make chart-check` builds and sets it)")
    return helm


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), "template", "rel", str(CHART), "--kube-version", "1.30.0", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@cache
def rendered(value_set: str) -> tuple[Manifest, ...]:
    args = [] if value_set == "default" else ["-f", str(CHART / "examples" / f"{value_set}.yaml")]
    result = run_helm(*args)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] == kind]


def workloads(docs: tuple[Manifest, ...]) -> Iterator[tuple[str, Manifest]]:
    """Every pod template: Deployments and the provisioning Job."""
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            yield doc["metadata"]["name"], doc["spec"]["template"]


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {entry["name"]: entry for entry in container.get("env", [])}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_pod_meets_the_restricted_pod_security_standard(value_set: str) -> None:
    pods = list(workloads(rendered(value_set)))
    assert len(pods) >= 8  # 8 roles and, by default, the provisioning Job
    for name, template in pods:
        spec = template["spec"]
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, name
        assert pod_security["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        mounted = {volume["name"]: volume for volume in spec["volumes"]}
        assert "emptyDir" in mounted["tmp"], name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["runAsNonRoot"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert security["seccompProfile"]["type"] == "RuntimeDefault", name
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name  # noqa: S108
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_role_is_probed_on_health_and_readiness_and_stops_gracefully(value_set: str) -> None:
    deployments = of_kind(rendered(value_set), "Deployment")
    assert {doc["metadata"]["labels"]["app.kubernetes.io/component"] for doc in deployments} == set(
        COMPONENTS
    )
    for doc in deployments:
        name = doc["metadata"]["name"]
        spec = doc["spec"]["template"]["spec"]
        [container] = spec["containers"]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, name
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", name
        # The readiness checks give up after 2 s each: the probe waits longer than that.
        assert container["readinessProbe"]["timeoutSeconds"] > 2, name
        assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"], name
        env = env_of(container)
        api = doc["spec"]["template"]["metadata"]["labels"]["helhet.io/api"] == "true"
        # The API serves health on its own port; other roles serve it on the health port.
        port_setting = "HELHET_API_PORT" if api else "HELHET_HEALTH_PORT"
        assert env[port_setting]["value"] == "8080", name
        assert container["args"][1] == ("api" if api else doc["metadata"]["labels"]["helhet.io/role"])
        if api:
            assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep", name
        else:
            # Consumers finish their batch and commit on SIGTERM: time for that, no sleep first.
            assert spec["terminationGracePeriodSeconds"] >= 60, name


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_no_secret_value_is_rendered_inline(value_set: str) -> None:
    docs = rendered(value_set)
    assert of_kind(docs, "Secret") == []
    for name, template in workloads(docs):
        for container in template["spec"]["containers"]:
            for variable, entry in env_of(container).items():
                if SECRET_NAME.search(variable):
                    assert "value" not in entry, (name, variable)
                    assert set(entry["valueFrom"]) == {"secretKeyRef"}, (name, variable)
                else:
                    assert "mongodb://" not in str(entry.get("value", "")), (name, variable)
            env = env_of(container)
            assert "secretKeyRef" in env["HELHET_MONGODB_URI"]["valueFrom"], name


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_network_policies_deny_by_default_and_allow_what_each_role_needs(value_set: str) -> None:
    docs = rendered(value_set)
    policies = {
        doc["metadata"]["name"].removeprefix("rel-helhet-"): doc["spec"]
        for doc in of_kind(docs, "NetworkPolicy")
    }
    release = {"app.kubernetes.io/name": "helhet", "app.kubernetes.io/instance": "rel"}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {"matchLabels": release}
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny
    assert "egress" not in deny

    api_ingress = policies["api-ingress"]
    assert api_ingress["podSelector"]["matchLabels"] == {**release, "helhet.io/api": "true"}
    assert api_ingress["ingress"][0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert api_ingress["ingress"][0]["from"], "an empty peer list would admit everyone"

    egress = policies["egress"]["egress"]
    allowed_ports = {port["port"] for rule in egress for port in rule["ports"]}
    assert {53, 27017} <= allowed_ports
    assert allowed_ports & {9092, 9093}
    internet = policies["internet-egress"]
    assert internet["podSelector"]["matchLabels"] == {**release, "helhet.io/internet": "true"}
    [block] = internet["egress"][0]["to"]
    assert "10.0.0.0/8" in block["ipBlock"]["except"]

    # Every pod is selected by the default deny (its labels include the release's).
    for name, template in workloads(docs):
        labels = template["metadata"]["labels"]
        assert release.items() <= labels.items(), name


def test_the_default_roles_reach_only_what_they_need() -> None:
    labels = {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
        for doc in of_kind(rendered("default"), "Deployment")
    }
    # The routing worker talks to Kafka and MongoDB only; notify's worker reaches the providers.
    assert labels["rel-helhet-routing-worker"]["helhet.io/internet"] == "false"
    assert labels["rel-helhet-notify-worker"]["helhet.io/internet"] == "true"
    assert labels["rel-helhet-profile-webhooks"]["helhet.io/api"] == "false"


def test_autoscaled_roles_leave_replicas_to_the_autoscaler() -> None:
    docs = rendered("production")
    deployments = {doc["metadata"]["name"]: doc for doc in of_kind(docs, "Deployment")}
    scaled = {doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "HorizontalPodAutoscaler")}
    lagged = {doc["spec"]["scaleTargetRef"]["name"] for doc in of_kind(docs, "ScaledObject")}
    assert "rel-helhet-ingest-api" in scaled
    assert "rel-helhet-profile-worker" in lagged
    assert not scaled & lagged
    for name in scaled | lagged:
        assert "replicas" not in deployments[name]["spec"], name
    assert "replicas" in deployments["rel-helhet-routing-api"]["spec"]
    for scaled_object in of_kind(docs, "ScaledObject"):
        for trigger in scaled_object["spec"]["triggers"]:
            assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")
    [auth] = of_kind(docs, "TriggerAuthentication")
    assert {ref["parameter"] for ref in auth["spec"]["secretTargetRef"]} == {"password", "ca"}


def test_strimzi_topics_come_from_the_catalog_and_the_hook_then_makes_only_indexes() -> None:
    docs = rendered("strimzi-mongodb-operator")
    topics = {doc["spec"]["topicName"]: doc for doc in of_kind(docs, "KafkaTopic")}
    assert {name: doc["spec"]["partitions"] for name, doc in topics.items()} == {
        topic.name: topic.partitions for topic in all_topics()
    }
    assert topics["profiles.v1"]["spec"]["config"]["cleanup.policy"] == "compact"
    for doc in topics.values():
        assert doc["metadata"]["labels"]["strimzi.io/cluster"] == "my-cluster"
        assert doc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    [job] = of_kind(docs, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["helhet-provision", "--no-topics"]
    [default_job] = of_kind(rendered("default"), "Job")
    assert default_job["spec"]["template"]["spec"]["containers"][0]["args"] == ["helhet-provision"]
    assert default_job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_kafka_credentials_and_ca_are_wired_by_reference() -> None:
    docs = rendered("strimzi-mongodb-operator")
    for name, template in workloads(docs):
        [container] = template["spec"]["containers"]
        env = env_of(container)
        assert env["HELHET_KAFKA_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
        assert env["HELHET_KAFKA_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
        assert env["HELHET_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "helhet",
            "key": "password",
        }
        assert env["HELHET_KAFKA_SSL_CAFILE"]["value"] == "/etc/helhet/kafka-ca/ca.crt"
        volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
        assert volumes["kafka-ca"]["secret"]["secretName"] == "my-cluster-cluster-ca-cert", name


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        (["--set", "replicaCount=3"], "additional properties 'replicaCount' not allowed"),
        (
            ["--set", "components.profile.roles.worker.replica=3"],
            "additional properties 'replica' not allowed",
        ),
        (["--set-string", "components.routing.roles.api.replicas=two"], "replicas"),
        (["--set", "containerSecurityContext.readOnlyRootFilesystem=false"], "readOnlyRootFilesystem"),
        (["--set", "podSecurityContext.runAsNonRoot=false"], "runAsNonRoot"),
        (["--set", "kafka.securityProtocol=SSL_PLAIN"], "securityProtocol"),
        # A secret in plain environment is refused: it belongs in secretEnv (a Secret reference).
        (["--set", "components.notify.env.HELHET_SMTP_PASSWORD=hunter2"], "HELHET_SMTP_PASSWORD"),
        (["--set", "components.ingest.roles.api.resources.limits.cpu=null"], "cpu"),
        # An empty ports list would open every port; an empty peer is not a peer.
        (["--set-json", "networkPolicy.internet.ports=[]"], "ports"),
        (["--set-json", "networkPolicy.kafka.to=[{}]"], "kafka"),
        # SASL without a mechanism, or a mechanism without SASL: the clients would disagree.
        (["--set", "kafka.securityProtocol=PLAINTEXT"], "mechanism"),
        (["--set", "kafka.sasl.mechanism="], "mechanism"),
        (["--set", "podSecurityContext.seccompProfile.type=Unconfined"], "seccompProfile"),
    ],
)
def test_the_schema_refuses_unknown_keys_wrong_types_and_weakened_security(
    setting: list[str], complaint: str
) -> None:
    result = run_helm(*setting)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr
    assert complaint in result.stderr


def test_cpu_and_lag_autoscaling_together_is_refused() -> None:
    result = run_helm(
        "--set",
        "components.routing.roles.worker.autoscaling.enabled=true",
        "--set",
        "components.routing.roles.worker.keda.enabled=true",
    )
    assert result.returncode != 0
    assert "enable autoscaling (CPU) or keda (lag), not both" in result.stderr


SETTINGS: dict[str, type[CommonSettings]] = {
    "ingest": IngestSettings,
    "profile": ProfileSettings,
    "routing": RoutingSettings,
    "notify": NotifySettings,
    "provision": CommonSettings,
}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_setting_the_chart_gives_is_one_the_service_reads(value_set: str) -> None:
    """Settings ignore unknown variables, so a misspelt one would be lost silently: each HELHET_ variable
    on a container must name a field of its component's settings."""
    for name, template in workloads(rendered(value_set)):
        component = template["metadata"]["labels"]["app.kubernetes.io/component"]
        known = {f"HELHET_{field.upper()}" for field in SETTINGS[component].model_fields}
        for container in template["spec"]["containers"]:
            given = {variable for variable in env_of(container) if variable.startswith("HELHET_")}
            assert given <= known, (name, sorted(given - known))


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_role_starts_with_the_settings_the_chart_gives(
    value_set: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside development a service refuses to start without its real secrets: the chart must hand each
    one over (a Secret's value stands in here)."""
    for name, template in workloads(rendered(value_set)):
        component = template["metadata"]["labels"]["app.kubernetes.io/component"]
        [container] = template["spec"]["containers"]
        with monkeypatch.context() as patch:
            for variable in [variable for variable in os.environ if variable.startswith("HELHET_")]:
                patch.delenv(variable)
            for variable, entry in env_of(container).items():
                patch.setenv(variable, entry.get("value", f"secret-from-{name}-{variable}".lower()))
            settings = SETTINGS[component]()
            assert settings.environment == container_env_value(container, "HELHET_ENVIRONMENT"), name
            assert settings.kafka_bootstrap_servers == container_env_value(
                container, "HELHET_KAFKA_BOOTSTRAP_SERVERS"
            ), name


def container_env_value(container: Manifest, variable: str) -> str:
    value = env_of(container)[variable]["value"]
    assert isinstance(value, str)
    return value


# The consumer groups and topics each worker really reads (its settings and its agent's topics).
WORKER_READS = {
    "profile": (ProfileSettings().worker_app_id, PROFILE_TOPICS),
    "routing": (RoutingSettings().worker_app_id, ROUTING_TOPICS),
    "notify": (NotifySettings().worker_app_id, NOTIFY_TOPICS),
}


def test_lag_scaling_watches_every_topic_each_worker_reads() -> None:
    """KEDA scales on the lag of the topics named: each worker's group on all of its topics, one trigger
    each (the busiest decides), as the code consumes them."""
    docs = rendered("production")
    watched = {
        doc["metadata"]["labels"]["app.kubernetes.io/component"]: [
            (trigger["metadata"]["consumerGroup"], trigger["metadata"]["topic"])
            for trigger in doc["spec"]["triggers"]
        ]
        for doc in of_kind(docs, "ScaledObject")
    }
    assert watched == {
        component: [(group, topic) for topic in topics] for component, (group, topics) in WORKER_READS.items()
    }


def test_the_provisioning_job_has_its_own_way_to_kafka_and_mongodb_during_the_hook() -> None:
    docs = rendered("strimzi-mongodb-operator")
    policies = of_kind(docs, "NetworkPolicy")
    [policy] = [doc for doc in policies if doc["metadata"]["name"].endswith("-provision-egress")]
    assert policy["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    # Created before the Job (weight 0) and kept until the hooks succeeded.
    assert int(policy["metadata"]["annotations"]["helm.sh/hook-weight"]) < 0
    [job] = of_kind(docs, "Job")
    selected = policy["spec"]["podSelector"]["matchLabels"]
    assert selected.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert ports == {53, 9093, 27017}


def test_minimum_above_maximum_is_refused() -> None:
    result = run_helm(
        "--set",
        "components.routing.roles.api.autoscaling.enabled=true",
        "--set",
        "components.routing.roles.api.autoscaling.minReplicas=5",
        "--set",
        "components.routing.roles.api.autoscaling.maxReplicas=2",
    )
    assert result.returncode != 0
    assert "minReplicas is above maxReplicas" in result.stderr
