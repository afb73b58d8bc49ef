"""The regional canary's script, against a local TLS server: the name's certificate is checked, the
request carries the public name, and any answer outside 200-399 fails the run."""

from __future__ import annotations

import datetime
import importlib.util
import json
import socket
import ssl
import struct
import threading
import time
import zipfile
import io

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from modules.observability import canary as construct
from modules.observability import naming

NAME = "app.example.test"


def _script():
    spec = importlib.util.spec_from_file_location("spofless_canary", construct.SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _certificate(tmp_path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Server:
    """Answers each TLS connection with ``status`` and records the request it got."""

    def __init__(self, cert_path, key_path, status: int):
        self.status, self.requests = status, []
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_path, key_path)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as tls:
                    self.requests.append(tls.recv(4096).decode())
                    tls.sendall(f"HTTP/1.1 {self.status} X\r\nContent-Length: 0\r\n\r\n".encode())
            except (OSError, ssl.SSLError):
                continue

    def close(self):
        self.sock.close()


@pytest.fixture
def tls(tmp_path):
    servers, certificates = [], {}

    def start(status: int, name: str = NAME):
        if name not in certificates:
            certificates[name] = _certificate(tmp_path, name)
        cert, key = certificates[name]
        server = Server(cert, key, status)
        servers.append(server)
        # the client trusts the certificate for NAME only
        if NAME not in certificates:
            certificates[NAME] = _certificate(tmp_path, NAME)
        client = ssl.create_default_context(cafile=str(certificates[NAME][0]))
        return server, client

    yield start
    for server in servers:
        server.close()


def test_a_2xx_answer_passes_and_the_request_names_the_public_name_and_path(tls):
    script = _script()
    server, client = tls(200)
    assert script.check("127.0.0.1", NAME, "/health/ready", 5, client, server.port) == 200
    request = server.requests[0]
    assert request.startswith("GET /health/ready HTTP/1.1\r\n") and f"\r\nHost: {NAME}\r\n" in request


def test_a_5xx_answer_fails_naming_the_name_the_path_and_the_status(tls):
    script = _script()
    server, client = tls(503)
    with pytest.raises(script.CheckFailed, match=rf"{NAME}/health/ready via 127.0.0.1: HTTP 503"):
        script.check("127.0.0.1", NAME, "/health/ready", 5, client, server.port)


def test_a_certificate_for_another_name_fails(tls):
    script = _script()
    server, client = tls(200, name="other.example.test")
    with pytest.raises(script.CheckFailed, match="certificate|hostname|match"):
        script.check("127.0.0.1", NAME, "/", 5, client, server.port)


def test_nothing_listening_fails_within_the_timeout():
    script = _script()
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(script.CheckFailed, match="via 127.0.0.1"):
        script.check("127.0.0.1", NAME, "/", 2, None, port)


def test_the_handler_fails_the_run_when_any_target_fails_and_names_each(tls, monkeypatch):
    script = _script()
    good, client = tls(200)
    bad, _ = tls(500)
    monkeypatch.setattr(script.ssl, "create_default_context", lambda: client)
    targets = [{"connect": "127.0.0.1", "host": NAME, "path": "/", "port": good.port},
               {"connect": "127.0.0.1", "host": NAME, "path": "/api", "port": bad.port}]
    monkeypatch.setenv("SPOFLESS_TARGETS", json.dumps(targets))
    with pytest.raises(script.CheckFailed, match=r"1 of 2 target\(s\) failed: .*/api via 127.0.0.1: HTTP 500"):
        script.handler()
    monkeypatch.setenv("SPOFLESS_TARGETS", json.dumps(targets[:1]))
    assert script.handler() == "1 target(s) answered"


def test_the_package_is_the_python_layout_and_byte_identical():
    first, second = construct.package(), construct.package()
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["python/spofless_canary.py"]
        assert archive.read("python/spofless_canary.py") == construct.SCRIPT.read_bytes()
    assert construct.HANDLER.split(".")[0] == construct.SCRIPT.stem


def test_canary_names_fit_the_service_and_stay_apart():
    assert naming.canary_name("prod-us-east-1") == "prod-us-east-1"
    long_a, long_b = naming.canary_name("staging-ap-southeast-2"), naming.canary_name("staging-ap-southeast-1")
    assert len(long_a) <= naming.CANARY_NAME_LIMIT and len(long_b) <= naming.CANARY_NAME_LIMIT and long_a != long_b
    peer = naming.peer_canary_name("staging-us-east-1")
    assert len(peer) <= naming.CANARY_NAME_LIMIT and peer != naming.canary_name("staging-us-east-1")
    assert construct.rate(1) == "rate(1 minute)" and construct.rate(5) == "rate(5 minutes)"


class NameServer:
    """An authoritative name server on a local UDP port: ``records`` name -> address, NXDOMAIN otherwise."""

    def __init__(self, records: dict[str, str]):
        self.records, self.questions = records, []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            labels, offset = [], 12
            while data[offset]:
                labels.append(data[offset + 1:offset + 1 + data[offset]].decode())
                offset += 1 + data[offset]
            name = ".".join(labels)
            self.questions.append((name, struct.unpack(">H", data[2:4])[0] & 0x0100))
            question = data[12:offset + 5]
            address = self.records.get(name)
            flags = 0x8400 | (0 if address else 3)  # response, authoritative; NXDOMAIN when unknown
            header = data[:2] + struct.pack(">HHHHH", flags, 1, 1 if address else 0, 0, 0)
            answer = (struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(address)) if address else b""
            self.sock.sendto(header + question + answer, peer)

    def close(self):
        self.sock.close()


def test_the_failover_name_is_asked_of_the_zones_own_name_servers_without_recursion(tls):
    script = _script()
    server, client = tls(200)
    dns = NameServer({f"us-east-1.failover.{NAME}": "127.0.0.1"})
    try:
        assert script.check(f"us-east-1.failover.{NAME}", NAME, "/", 5, client, server.port,
                            nameservers=["127.0.0.1"], dns_port=dns.port) == 200
        assert dns.questions == [(f"us-east-1.failover.{NAME}", 0)]  # RD off: the authoritative answer
        with pytest.raises(script.CheckFailed, match=r"us-west-2\.failover\..*NXDOMAIN"):
            script.check(f"us-west-2.failover.{NAME}", NAME, "/", 5, client, server.port,
                         nameservers=["127.0.0.1"], dns_port=dns.port)
    finally:
        dns.close()


def test_a_silent_name_server_fails_the_target_within_its_timeout():
    script = _script()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        with pytest.raises(script.CheckFailed, match="timed out"):
            script.check(f"us-east-1.failover.{NAME}", NAME, "/", 1, None, 443, nameservers=["127.0.0.1"],
                         dns_port=silent.getsockname()[1])
        assert time.monotonic() - started < 3
    finally:
        silent.close()
