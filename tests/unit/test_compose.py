"""docker-compose.yml as Docker Compose resolves it (`docker-compose config`: schema validation, anchors, the env
file): the deployment issue 11 asks for, every command a real entry point of the project, every environment name a
known setting or a documented compose variable, and Prometheus scraping what serves metrics."""
import re
import secrets
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from urllib.parse import urlsplit

import pytest
import yaml

import compose_file
from compose_file import ROOT, ours
from lenet_protos.contract import node_stop_seconds
from lenet_protos.settings import ClientSettings, ServiceSettings, TracingSettings, env_names

PASSWORD = secrets.token_hex(16)
TOKENS = "alice:" + secrets.token_hex(8)
ENV = {"REDIS_PASSWORD": PASSWORD, "LENET_TOKENS": TOKENS}
SETTINGS = {**env_names(ServiceSettings), **env_names(ClientSettings), **env_names(TracingSettings)}
RAW = compose_file.raw()
WORKERS = ("worker-cpu", "worker-gpu")


@pytest.fixture(scope="module")
def config() -> dict:
    return compose_file.resolved(ENV, profiles=("gpu", "tracing"))


@pytest.fixture(scope="module")
def services(config) -> dict:
    return config["services"]


def seconds(duration: str) -> float:
    """A Compose duration ("1m30s", "30s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(duration))
    assert parts, f"not a duration: {duration!r}"
    return sum(float(value) * units[unit] for value, unit in parts)


def volume(service: dict, target: str) -> tuple[str, str]:
    """(source, mode) of the service's volume mounted at `target`."""
    for entry in service.get("volumes", []):
        source, mounted, *mode = entry.split(":") if isinstance(entry, str) else \
            (entry["source"], entry["target"], "ro" if entry.get("read_only") else "rw")
        if mounted == target:
            return source, (mode or ["rw"])[0]
    raise AssertionError(f"nothing mounted at {target}")


def test_compose_accepts_the_file_and_refuses_to_run_without_a_redis_password():
    assert compose_file.run_config(ENV).returncode == 0
    refused = compose_file.run_config({"LENET_TOKENS": TOKENS})
    assert refused.returncode != 0 and "set REDIS_PASSWORD in .env" in refused.stderr


def test_redis_keeps_an_append_only_file_on_a_named_volume_behind_a_password(config, services):
    redis = services["redis"]
    options = dict(zip(redis["command"][1::2], redis["command"][2::2]))
    assert redis["command"][0] == "redis-server"
    assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec"
    assert options["--requirepass"] == PASSWORD
    source, mode = volume(redis, options["--dir"])
    assert source in config["volumes"] and mode == "rw"


def test_every_client_of_redis_uses_the_password(services):
    clients = {}
    for name, service in services.items():
        for variable in ("REDIS_URL", "CELERY_BROKER_URL"):
            if variable in service.get("environment", {}):
                clients[name] = urlsplit(service["environment"][variable])
    assert set(clients) == {"gateway", "dashboard", *WORKERS, "flower"}
    for name, url in clients.items():
        assert (url.scheme, url.hostname, url.port, url.password) == ("redis", "redis", 6379, PASSWORD), name


def test_services_restart_and_report_their_health(services):
    for name, service in services.items():
        assert service.get("restart") == ("no" if name == "data" else "unless-stopped"), name
    for name in ("redis", "gateway", "dashboard", *WORKERS):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and seconds(check["interval"]) <= 30, name


def test_workers_get_time_to_hand_their_job_back(services):
    """Docker's default grace is 10 s; the workers' is longer than the most a node takes to stop
    (docker-compose.yml says why that suffices)."""
    stop_grace = float(services["worker-cpu"]["environment"].get("LENET_STOP_GRACE_SECONDS",
                                                                 ServiceSettings().stop_grace_seconds))
    for name in WORKERS:
        assert seconds(services[name]["stop_grace_period"]) > max(10, node_stop_seconds(stop_grace)), name


def test_the_data_service_fills_the_volume_that_the_gateway_and_workers_read(services):
    data = services["data"]
    destination = data["command"][data["command"].index("--dir") + 1]
    source, mode = volume(data, destination)
    assert data["command"][:3] == ["lenet", "data", "fetch"] and mode == "rw"
    for name in ("gateway", *WORKERS):
        service = services[name]
        assert volume(service, service["environment"]["LENET_DATA_DIR"]) == (source, "ro"), name
        assert service["depends_on"]["data"]["condition"] == "service_completed_successfully", name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name


def test_only_the_gateway_is_published_beyond_loopback_on_its_grpc_and_rest_ports(services):
    published = {}
    for name, service in services.items():
        for port in service.get("ports", []):
            if isinstance(port, str):     # "HOST_IP:PUBLISHED:TARGET/tcp"
                *host_ip, number, _target = port.split("/")[0].split(":")
                published[(name, int(number))] = host_ip[0] if host_ip else ""
            else:
                published[(name, int(port["published"]))] = port.get("host_ip", "")
    assert published.pop(("gateway", 50051)) in ("", "0.0.0.0")
    assert published.pop(("gateway", int(services["gateway"]["environment"]["LENET_HTTP_PORT"]))) in ("", "0.0.0.0")
    assert published and set(published.values()) == {"127.0.0.1"}, published


def test_the_gateway_always_has_tokens(services):
    """With tokens in the env file the gateway gets them; without, it reads the mounted tokens file (and refuses to
    start when that is missing): never an open gateway."""
    assert services["gateway"]["environment"]["LENET_TOKENS"] == TOKENS
    default = compose_file.resolved({"REDIS_PASSWORD": PASSWORD})["services"]["gateway"]
    tokens = default["environment"]["LENET_TOKENS"]
    assert tokens.startswith("@/")
    secrets_dir = tokens[1:].rsplit("/", 1)[0]
    source, mode = volume(default, secrets_dir)
    assert mode == "ro" and source == str(ROOT / "deploy" / "secrets")


def test_the_gpu_worker_is_a_cuda_build_under_its_profile(services):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    gpu, cpu = services["worker-gpu"], services["worker-cpu"]
    assert gpu["profiles"] == ["gpu"] and "profiles" not in cpu
    assert any(r.startswith("mxnet-cu") for r in extras[gpu["build"]["args"]["DEVICE"]])
    assert any(r.startswith("mxnet==") for r in extras[cpu["build"]["args"]["DEVICE"]])
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert "--device" in gpu["command"] and gpu["command"][gpu["command"].index("--device") + 1] == "gpu"


def test_gateway_and_workers_have_images_of_their_own(services):
    images = {name: (services[name]["image"], services[name]["build"].get("target")) for name in
              ("gateway", *WORKERS)}
    assert len({image for image, _target in images.values()}) == 3
    assert images["gateway"][1] == "gateway" and {images[w][1] for w in WORKERS} == {"worker"}
    assert services["data"]["image"] == services["gateway"]["image"]   # the small image carries `lenet data`


def test_every_environment_name_is_a_setting_or_a_documented_compose_variable(services):
    documented = compose_file.documented_names()
    assert documented and not documented & set(SETTINGS), "the README's compose table repeats a setting"
    used = {name for service in services.values() for name in service.get("environment", {})}
    unknown = (used | compose_file.interpolated_names()) - set(SETTINGS) - documented
    assert unknown == set(), "not a setting (protos/settings.py) nor in the README's compose variables"
    example = compose_file.example_names()
    assert example - compose_file.interpolated_names() == set(), ".env.example lists variables compose never reads"
    assert documented - used - compose_file.interpolated_names() == set(), "README documents unused variables"


# Parse a command line with the program's own parser, then stop: an unknown command, option or choice exits 2 as it
# would in the container, without starting anything. argparse programs stop once their arguments are parsed; click
# programs run their groups (which parse the subcommand's arguments) but not the command itself.
DRY_RUN = """
import argparse, runpy, sys
from importlib.metadata import entry_points
parse = argparse.ArgumentParser.parse_args
def parse_then_stop(self, args=None, namespace=None):
    parse(self, args, namespace)
    sys.exit(0)
argparse.ArgumentParser.parse_args = parse_then_stop
try:
    import click
except ImportError:
    click = None
if click is not None:
    invoke = click.Command.invoke
    def invoke_groups_only(self, ctx):
        if isinstance(self, click.Group):
            return invoke(self, ctx)
        sys.exit(0)
    click.Command.invoke = invoke_groups_only
program, *args = sys.argv[1:]
if program == "python" and args[0] == "-m":
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
else:
    (script,) = entry_points(group="console_scripts", name=program)
    sys.argv = [program, *args]
    sys.exit(script.load()())
sys.exit("the program ran without parsing its arguments")
"""

OUR_COMMANDS = [(name, kind) for name, service in RAW["services"].items() if "build" in service
                for kind in ("command", "healthcheck") if kind in service]


@pytest.mark.parametrize("name,kind", OUR_COMMANDS, ids=[f"{name}-{kind}" for name, kind in OUR_COMMANDS])
def test_every_command_is_an_entry_point_of_the_project(services, name, kind):
    argv = services[name]["command"] if kind == "command" else services[name]["healthcheck"]["test"]
    if kind == "healthcheck":
        assert argv[0] == "CMD", "a health check of our images runs a program of the project"
        argv = argv[1:]
    scripts = {script.name for script in entry_points(group="console_scripts")}
    assert argv[0] == "python" or argv[0] in scripts, f"{argv[0]} is neither python nor a script of the project"
    result = subprocess.run([sys.executable, "-c", DRY_RUN, *argv], capture_output=True, text=True, cwd=ROOT,
                            timeout=120)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stderr[-2000:]}"


def test_prometheus_scrapes_every_service_that_serves_metrics(services):
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    scraped = {(name, config["port"]) for job in prometheus["scrape_configs"]
               for config in job.get("dns_sd_configs", []) for name in config["names"]}
    serving = {(name, int(service["environment"]["LENET_METRICS_PORT"])) for name, service in services.items()
               if "LENET_METRICS_PORT" in service.get("environment", {})}
    assert serving and scraped == serving
    mounted = volume(services["prometheus"], "/etc/prometheus/prometheus.yml")
    assert mounted == (str(ROOT / "deploy" / "prometheus.yml"), "ro")


def test_the_tracing_profile_runs_jaeger_and_every_service_of_ours_exports_to_it_when_told(services):
    jaeger = services["jaeger"]
    assert jaeger["profiles"] == ["tracing"] and jaeger["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    assert all(not service["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] for name, service in services.items()
               if ours(service) and name != "data")   # off by default
    endpoint = "http://jaeger:4317"
    traced = compose_file.resolved({**ENV, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}, profiles=("tracing",))
    exporting = {name for name, service in traced["services"].items()
                 if service.get("environment", {}).get("OTEL_EXPORTER_OTLP_ENDPOINT") == endpoint}
    assert exporting == {name for name, service in traced["services"].items() if ours(service) and name != "data"}
def test_the_ha_profile_runs_a_replica_and_three_sentinels_that_every_redis_client_asks():
    addresses = "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379"
    services = compose_file.resolved({**ENV, "REDIS_SENTINELS": addresses}, profiles=("ha",))["services"]
    replica = services["redis-replica"]["command"]
    assert replica[replica.index("--replicaof") + 1:][:2] == ["redis", "6379"]
    for server in (services["redis"]["command"], replica):   # either may be the other's replica after a failover
        assert server[server.index("--masterauth") + 1] == server[server.index("--requirepass") + 1] == PASSWORD
    sentinels = sorted(name for name in services if name.startswith("sentinel-"))
    assert sentinels == ["sentinel-1", "sentinel-2", "sentinel-3"]
    master = ServiceSettings().redis_sentinel_master
    for name in sentinels:
        assert services[name]["environment"]["REDIS_SENTINEL_MASTER"] == master
        assert services[name]["environment"]["REDIS_PASSWORD"] == PASSWORD
    script = (ROOT / "deploy" / "sentinel.sh").read_text()
    assert "sentinel monitor $REDIS_SENTINEL_MASTER redis 6379 2" in script
    assert subprocess.run(["sh", "-n", str(ROOT / "deploy" / "sentinel.sh")]).returncode == 0
    for name in ("gateway", "dashboard", "worker-cpu"):
        environment = services[name]["environment"]
        assert environment["REDIS_SENTINELS"] == addresses and environment["REDIS_SENTINEL_MASTER"] == master, name
    assert {address.split(":")[0] for address in addresses.split(",")} == set(sentinels)
