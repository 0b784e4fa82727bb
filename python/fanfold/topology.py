"""Reads a fanfold topology file (ZPL, topology/*.zpl) the way the C stages
do: endpoints with %u replaced by the user id, a tcp bind on "*" connected
to as the section's host, settings with their defaults, and the CURVE keys
of the security section (docs/PROTOCOL.md section 9)."""

import os
import re

DEFAULTS = {
    "fanfold/heartbeat_ms": "250",
    "fanfold/worker_timeout_ms": "3000",
    "fanfold/client_timeout_ms": "600",
    "fanfold/hwm": "1000",
    "fanfold/linger_ms": "2000",
}


def read_zpl(path):
    """Returns {"section/key": value} for a ZPL file (4-space indentation);
    raises ValueError naming the file and line for a line it cannot read."""
    values, stack = {}, []
    with open(path, encoding="utf-8") as source:
        for number, raw in enumerate(source, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            depth = (len(line) - len(line.lstrip(" "))) // 4
            body = line.strip()
            match = re.match(r'([A-Za-z0-9_/$.-]+)\s*(?:=\s*(.*))?$', body)
            if not match:
                raise ValueError("%s:%d: cannot read line %r" % (path, number, raw))
            name, value = match.group(1), match.group(2)
            del stack[depth:]
            stack.append(name)
            if value is not None:
                value = value.strip()
                if value.startswith('"'):
                    end = value.find('"', 1)
                    if end < 0:
                        raise ValueError("%s:%d: unterminated string" % (path, number))
                    value = value[1:end]
                else:
                    value = value.split("#", 1)[0].strip()
                values["/".join(stack)] = value
    return values


class Topology:
    """The parts of a topology a Python peer needs."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.values = dict(DEFAULTS)
        self.values.update(read_zpl(self.path))
        self.uid = str(os.getuid())

    def get(self, key, default=None):
        return self.values.get(key, default)

    def number(self, key):
        return int(self.values[key])

    def connect(self, key, host_key):
        """The endpoint a peer connects to for bind key (None if absent)."""
        bind = self.values.get(key)
        if bind is None:
            return None
        bind = bind.replace("%u", self.uid)
        host = self.values.get(host_key, "localhost").replace("%u", self.uid)
        for wildcard in ("tcp://*:", "tcp://0.0.0.0:"):
            if bind.startswith(wildcard):
                return "tcp://%s:%s" % (host, bind[len(wildcard):])
        return bind

    @property
    def control(self):
        return self.connect("ventilator/control", "ventilator/host")

    @property
    def results(self):
        return self.connect("sink/results", "sink/host")

    @property
    def clients(self):
        """server/clients, or as the C topology derives it when absent:
        "clients" in an ipc control's directory, a tcp control's port + 2."""
        found = self.connect("server/clients", "ventilator/host")
        if found is not None:
            return found
        control = self.control
        if control is None:
            return None
        if control.startswith("ipc://") and "/" in control[6:]:
            return control.rsplit("/", 1)[0] + "/clients"
        head, _, port = control.rpartition(":")
        if control.startswith("tcp://") and port.isdigit() and 0 < int(port) <= 65533:
            return "%s:%d" % (head, int(port) + 2)
        return None

    def local_only(self):
        """True when every endpoint is ipc: every peer is on this host."""
        endpoints = [self.control, self.results, self.clients]
        return all(e is None or e.startswith("ipc://") for e in endpoints)

    def curve_keys(self):
        """(server_public, client_public, client_secret) as Z85 bytes when the
        topology has a security section and tcp endpoints, else None."""
        if self.local_only() or "security/server_public" not in self.values:
            return None
        import zmq.auth
        base = os.path.dirname(self.path)

        def path_of(key):
            value = self.values[key]
            return value if os.path.isabs(value) else os.path.join(base, value)
        server_public, _ = zmq.auth.load_certificate(path_of("security/server_public"))
        client_public, client_secret = zmq.auth.load_certificate(
            path_of("security/client_secret"))
        return server_public, client_public, client_secret

    def secure(self, sock, keys):
        """Sets the CURVE client options on sock before it connects."""
        if keys:
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = keys
