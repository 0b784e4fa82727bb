"""Reads a fanfold topology file (ZPL) the way the C stages do: the
endpoints peers connect to, with %u replaced by the user id and a tcp "*"
host replaced by the section's host. Standard library only."""

import os
import re


def read_zpl(path):
    """Returns {"section/key": value} for a ZPL file (4-space indentation)."""
    values, stack = {}, []
    with open(path, encoding="utf-8") as source:
        for raw in source:
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            depth = (len(line) - len(line.lstrip(" "))) // 4
            body = line.strip()
            match = re.match(r'([A-Za-z0-9_/$.-]+)\s*(?:=\s*(.*))?$', body)
            if not match:
                raise ValueError("%s: cannot read line: %r" % (path, raw))
            name, value = match.group(1), match.group(2)
            del stack[depth:]
            stack.append(name)
            if value is not None:
                value = value.strip()
                if value.startswith('"'):
                    value = value[1:value.index('"', 1)]
                else:
                    value = value.split("#", 1)[0].strip()
                values["/".join(stack)] = value
    return values


def connect_endpoints(path):
    """Returns (control, results): where a worker connects."""
    zpl = read_zpl(path)
    uid = str(os.getuid())

    def connect(key, host_key):
        bind = zpl[key].replace("%u", uid)
        host = zpl.get(host_key, "localhost").replace("%u", uid)
        for wildcard in ("tcp://*:", "tcp://0.0.0.0:"):
            if bind.startswith(wildcard):
                return "tcp://%s:%s" % (host, bind[len(wildcard):])
        return bind

    return (connect("ventilator/control", "ventilator/host"),
            connect("sink/results", "sink/host"))
