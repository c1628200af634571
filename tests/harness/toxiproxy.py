"""toxiproxy-server (built by tests/peers/build) between one participant and
the API server: a TCP proxy on loopback whose toxics cut, stall or slow
every connection through it, existing ones included."""

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Toxiproxy:
    def __init__(self, binary, upstream_port, log):
        self.api_port = free_port()
        self.server = subprocess.Popen(
            [str(binary), '-host', '127.0.0.1', '-port', str(self.api_port)],
            stdout=subprocess.DEVNULL, stderr=Path(log).open('w'),
        )
        self.api = f'http://127.0.0.1:{self.api_port}'
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call('GET', '/version')
                break
            except OSError:
                if time.monotonic() > deadline or self.server.poll() is not None:
                    raise RuntimeError(f'toxiproxy-server did not start (log: {log})')
                time.sleep(0.1)
        self.port = free_port()
        self._call('POST', '/proxies', {
            'name': 'apiserver', 'listen': f'127.0.0.1:{self.port}',
            'upstream': f'127.0.0.1:{upstream_port}', 'enabled': True,
        })
        self.toxics = []

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.api + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    def add(self, kind, stream, **attributes):
        name = f'{kind}-{stream}-{len(self.toxics)}'
        self._call('POST', '/proxies/apiserver/toxics', {
            'name': name, 'type': kind, 'stream': stream, 'toxicity': 1.0, 'attributes': attributes,
        })
        self.toxics.append(name)

    def clear(self):
        for name in self.toxics:
            self._call('DELETE', f'/proxies/apiserver/toxics/{name}')
        self.toxics = []

    def reset(self):
        """No fault left: every toxic gone and the proxy enabled, whatever a
        failed round left behind."""
        self._call('POST', '/reset')
        self.toxics = []

    def cut(self):
        """Closes every connection through the proxy, as a restarted load
        balancer would; new ones are let through again at once."""
        self._call('POST', '/proxies/apiserver', {'enabled': False})
        self._call('POST', '/proxies/apiserver', {'enabled': True})

    def close(self):
        self.server.terminate()
        self.server.wait(10)


def faults(timings):
    """The faults of the chaos suite, as toxics on both directions of the
    proxy, scaled to the electors' timings."""
    return {
        # Nothing gets through and nothing is closed: a blackhole.
        'blackhole': [('timeout', 'upstream', {'timeout': 0}), ('timeout', 'downstream', {'timeout': 0})],
        # Every connection stalls, then is closed (after 3 s at client-go's timings).
        'timeouts': [('timeout', 'upstream', {'timeout': timings.ms(timings.lease / 5)}),
                     ('timeout', 'downstream', {'timeout': timings.ms(timings.lease / 5)})],
        # Answers arrive 2 s past the renew deadline (12 s at client-go's timings).
        'latency past the renew deadline': [
            ('latency', 'downstream', {'latency': timings.ms(timings.renew_deadline + 2), 'jitter': 0})],
    }
