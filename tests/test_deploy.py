"""The deployments past one machine (deploy/docker, deploy/helm) say the same as the instance `make serve` runs on.

No container engine or cluster is available to the tests: these check structure and agreement, not that the
containers start (docs/DEPLOYMENT.md says which parts the served-stack tests cover)."""

import re

import pytest
import yaml

from pipeline.defs.resources import PROJECT_DIR, NoDurablePublish, refuse_scratch_publish_on_kubernetes
from pipeline.operations import serve
from tests.conftest import snapshot

DEPLOY = PROJECT_DIR / "deploy"


def load(relative: str) -> dict:
    return yaml.safe_load((DEPLOY / relative).read_text(encoding="utf-8"))


def test_the_container_instance_is_the_served_instance_plus_a_run_launcher():
    served, docker = load("dagster.postgres.yaml"), load("docker/dagster.yaml")
    assert {k: v for k, v in docker.items() if k != "run_launcher"} == served
    launcher = docker["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    # Every setting the instance reads from the environment reaches the run containers.
    needed = set(re.findall(r"\{env: (\w+)\}", (DEPLOY / "dagster.postgres.yaml").read_text(encoding="utf-8")))
    assert needed <= set(launcher["config"]["env_vars"])


def test_compose_runs_the_served_topology_from_one_image():
    compose = load("docker/docker-compose.yaml")
    services = compose["services"]
    assert set(services) == {"postgres", "code-server", "webserver", "daemon"}
    code_server = services["code-server"]["command"]
    assert code_server[:3] == ["dagster", "code-server", "start"]
    assert code_server[code_server.index("-m") + 1] == serve.LOCATION
    [location] = load("docker/workspace.yaml")["load_from"]
    assert location["grpc_server"]["port"] == int(code_server[code_server.index("-p") + 1])
    assert location["grpc_server"]["host"] == "code-server"
    assert location["grpc_server"]["location_name"] == serve.LOCATION
    for name in ("webserver", "daemon"):
        assert "/opt/sv/deploy/workspace.yaml" in services[name]["command"]
        assert services[name]["environment"]["DAGSTER_PG_HOST"] == "postgres"
    assert (
        services["postgres"]["environment"]["POSTGRES_DB"]
        == load("dagster.postgres.yaml")["storage"]["postgres"]["postgres_db"]["db_name"]
    )
    # The Dockerfile copies only what exists, and puts the container instance where DAGSTER_HOME points.
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE):
        for path in source.split():
            assert (PROJECT_DIR / path).exists(), path
    assert "COPY deploy/docker/dagster.yaml /opt/dagster/home/dagster.yaml" in dockerfile
    assert "DAGSTER_HOME=/opt/dagster/home" in dockerfile


def test_helm_values_match_the_served_instance():
    values = load("helm/values.yaml")
    served = load("dagster.postgres.yaml")
    database = served["storage"]["postgres"]["postgres_db"]
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlUsername"] == database["username"]
    assert values["postgresql"]["postgresqlDatabase"] == database["db_name"]
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == served["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    [deployment] = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", serve.LOCATION]
    assert values["telemetry"]["enabled"] == served["telemetry"]["enabled"]


def locked(name: str) -> str:
    """The version requirements.lock pins for a package."""
    for line in (PROJECT_DIR / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.lower().startswith(f"{name}=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"{name} is not in requirements.lock")


def test_the_image_carries_the_kubernetes_launcher_the_object_store_driver_and_the_release_gate():
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    extras = dict(re.findall(r"\b(dagster-k8s|dagster-docker|dagster-aws|s3fs)==([\w.]+)", dockerfile))
    # Pinned to the release of the Dagster family and the fsspec the lock file installs (s3fs pins fsspec exactly).
    integration = locked("dagster-postgres")
    assert extras == {
        "dagster-docker": integration,
        "dagster-k8s": integration,
        "dagster-aws": integration,
        "s3fs": locked("fsspec"),
    }
    assert "COPY release release" in dockerfile and "SV_RELEASE_DIR=/opt/sv/release" in dockerfile
    assert re.search(r"^USER svdata$", dockerfile, flags=re.MULTILINE), "the image runs as root"


def test_the_build_context_leaves_out_local_state_and_secrets():
    lines = [
        line.strip()
        for line in (PROJECT_DIR / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything is left out unless named"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8")
    copied = {
        path for source in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.MULTILINE) for path in source.split()
    }
    assert all(any(path == a or path.startswith(a + "/") for a in allowed) for path in copied), (copied, allowed)
    assert not allowed & {".venv", ".state", "dagster_home", "outputs", ".git", "dist"}


def test_compose_restarts_and_health_checks_every_service_and_keeps_the_docker_socket_from_the_webserver():
    services = load("docker/docker-compose.yaml")["services"]
    for name, service in services.items():
        restart = service.get("restart") or load("docker/docker-compose.yaml")["x-dagster"]["restart"]
        assert restart in ("always", "unless-stopped"), name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    webserver = services["webserver"]
    assert "--read-only" in webserver["command"]
    assert not [v for v in webserver.get("volumes", []) if "docker.sock" in v]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert services["daemon"]["healthcheck"]["test"][1:] == ["dagster-daemon", "liveness-check"]
    assert int(services["daemon"]["environment"]["DAGSTER_DAEMON_HEARTBEAT_TOLERANCE"]) <= 120
    code_server = services["code-server"]
    port = code_server["command"][code_server["command"].index("-p") + 1]
    assert code_server["healthcheck"]["test"][1:] == ["dagster", "api", "grpc-health-check", "-p", port]


def test_the_served_instance_monitors_runs_and_the_publish_job_has_a_maximum_run_time():
    from pipeline.defs.automation import publish_job

    monitoring = load("dagster.postgres.yaml")["run_monitoring"]
    assert monitoring["enabled"] is True and monitoring["poll_interval_seconds"] <= 60
    assert float(publish_job.tags["dagster/max_runtime"]) > 0
    helm = load("helm/values.yaml")["dagsterDaemon"]["runMonitoring"]
    assert helm["enabled"] is True and helm["pollIntervalSeconds"] == monitoring["poll_interval_seconds"]
    assert helm["startTimeoutSeconds"] == monitoring["start_timeout_seconds"]


def test_helm_keeps_run_logs_and_limits_every_pod():
    values = load("helm/values.yaml")
    logs = values["computeLogManager"]
    assert logs["type"] == "S3ComputeLogManager" and logs["config"]["s3ComputeLogManager"]["bucket"]
    [deployment] = values["dagster-user-deployments"]["deployments"]
    runs = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]["containerConfig"]["resources"]
    for resources in (deployment["resources"], runs, values["dagsterWebserver"]["resources"],
                      values["dagsterDaemon"]["resources"]):  # fmt: skip
        assert set(resources) == {"requests", "limits"}
        assert memory(resources["requests"]["memory"]) <= memory(resources["limits"]["memory"])
    # A run holds DuckDB's memory limit plus Python: its pod must be allowed that much.
    assert memory(runs["limits"]["memory"]) >= memory("768Mi") + memory("512Mi")


def memory(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]]


# What Dagster's K8sRunLauncher and Kubernetes put in a run pod's environment (dagster_k8s/launcher.py sets the first
# in the run worker's container; the kubelet sets the second in every pod).
RUN_POD_ENV = {"DAGSTER_RUN_JOB_NAME": "publish_package", "KUBERNETES_SERVICE_HOST": "10.0.0.1"}


def test_a_run_in_a_kubernetes_run_pod_without_a_durable_publish_location_fails_before_building_anything(
    project, monkeypatch
):
    """Finding 6: a run pod publishes to its scratch volume, so a run could succeed and publish nothing that lasts."""
    monkeypatch.delenv("SV_PUBLISH_URL", raising=False)
    for name, value in RUN_POD_ENV.items():
        monkeypatch.setenv(name, value)
    before = snapshot(project.outputs)
    build = project.build()
    assert not build.result.success
    failures = [str(e.event_specific_data) for e in build.result.all_events if e.is_failure]
    assert any("set SV_PUBLISH_URL" in failure for failure in failures), failures
    # Refused when the run's resources start, before its first step: nothing materialised, no warehouse written.
    assert not build.result.get_asset_materialization_events()
    assert not [e for e in build.result.all_events if e.event_type_value == "STEP_START"]
    assert not (project.root / "warehouse.duckdb").exists()
    assert snapshot(project.outputs) == before


def test_a_run_pod_with_a_publish_url_and_a_run_outside_a_pod_are_not_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("SV_PUBLISH_URL", raising=False)
    refuse_scratch_publish_on_kubernetes("")  # not in a pod: outputs/ is the machine's
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", RUN_POD_ENV["KUBERNETES_SERVICE_HOST"])
    refuse_scratch_publish_on_kubernetes("")  # in a pod, but not a run the launcher started (a code server's)
    monkeypatch.setenv("DAGSTER_RUN_JOB_NAME", RUN_POD_ENV["DAGSTER_RUN_JOB_NAME"])
    refuse_scratch_publish_on_kubernetes(f"file://{tmp_path}")
    with pytest.raises(NoDurablePublish, match="SV_PUBLISH_URL"):
        refuse_scratch_publish_on_kubernetes("")
