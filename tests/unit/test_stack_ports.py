"""A stack's worker nodes serve metrics on ports that nothing else holds: another test run's listener on the
port after the gateway's is passed over, not collided with."""
import socket

from lenet_protos.settings import ServiceSettings
from lenet_services.stack import Stack, port_free
from lenet_services.store.redis_server import free_port


def held_after_a_free_port() -> tuple[int, socket.socket]:
    """A free port and a listener on the port after it (what another run listens on, right after the gateway's):
    tried again where that next port is taken already (CI once found it so)."""
    for _ in range(100):
        port, held = free_port(), socket.socket()
        try:
            held.bind(("127.0.0.1", port + 1))
        except OSError:
            held.close()
            continue
        held.listen()
        return port, held
    raise RuntimeError("no free port followed by a free one in 100 tries")


def test_worker_metrics_ports_pass_over_ports_in_use(tmp_path):
    gateway, held = held_after_a_free_port()
    with held:
        ports = Stack(ServiceSettings(), workers=2, gpu_workers=1, metrics_port=gateway,
                      log_dir=str(tmp_path)).metrics_ports()
    assert ports["gateway"] == gateway
    assert set(ports) == {"gateway", "worker-cpu0", "worker-cpu1", "worker-gpu0"}
    nodes = [ports["worker-cpu0"], ports["worker-cpu1"], ports["worker-gpu0"]]
    assert gateway + 1 not in nodes
    assert nodes == sorted(set(nodes)) and nodes[0] > gateway + 1     # distinct, in order, after the gateway's
    assert all(port_free("127.0.0.1", port) for port in nodes)


def test_without_a_metrics_port_nothing_serves_metrics(tmp_path):
    assert Stack(ServiceSettings(), workers=2, log_dir=str(tmp_path)).metrics_ports() == {}


def test_the_childrens_environment_names_no_rest_port(tmp_path, monkeypatch):
    """A gateway started with the stack's environment (a test's second gateway) takes a free REST port, not the
    default one that another stack on the machine may hold; the stack's own gateway is given its port."""
    monkeypatch.delenv("LENET_HTTP_PORT", raising=False)
    assert "LENET_HTTP_PORT" not in Stack(ServiceSettings(), log_dir=str(tmp_path)).env()
