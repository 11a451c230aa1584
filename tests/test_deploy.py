"""The deployments past one machine (deploy/docker, deploy/helm) say the same as the instance `make serve` runs on.

No container engine or cluster is available to the tests: these check structure and agreement, not that the
containers start (docs/DEPLOYMENT.md says which parts the served-stack tests cover)."""

import re

import yaml

from pipeline.defs.resources import PROJECT_DIR
from pipeline.operations import serve

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
