"""The local control plane as the benchmarks and the chaos suite use it: its
kubeconfig and tokens, the API server's own counters, lease writes as an
administrator, and restarts of its components (tests/cluster/ctl)."""

import json
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# apiserver_request_total{...,resource="leases",...,verb="GET",...} 12
_REQUESTS = re.compile(r'^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
_WATCHES = re.compile(r'^apiserver_longrunning_requests\{(?P<labels>[^}]*)\} (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class LeaseLoad:
    """What the API server has served for leases: requests by verb since it
    started, and the lease watches open now."""

    requests: dict
    watches: int

    def rates_since(self, earlier, seconds):
        """Requests per second by verb between an earlier reading and this one."""
        verbs = set(self.requests) | set(earlier.requests)
        return {
            verb: (self.requests.get(verb, 0) - earlier.requests.get(verb, 0)) / seconds
            for verb in sorted(verbs)
        }


class Cluster:
    """A running local control plane (tests/cluster/up)."""

    def __init__(self, kubeconfig):
        self.kubeconfig = Path(kubeconfig)
        self.dir = self.kubeconfig.parent
        self.env = dict(
            line.split('=', 1) for line in (self.dir / 'env').read_text().split() if '=' in line
        )
        self.port = int(self.env['APISERVER_PORT'])
        self.url = f'https://127.0.0.1:{self.port}'
        self._tls = ssl.create_default_context(cafile=str(self.dir / 'pki' / 'ca.crt'))

    def request(self, method, path, body=None, timeout=10, content_type='application/json'):
        """One request as the administrator; returns (status, parsed JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header('Authorization', 'Bearer ' + self.env['ADMIN_TOKEN'])
        if data is not None:
            req.add_header('Content-Type', content_type)
        try:
            with urllib.request.urlopen(req, context=self._tls, timeout=timeout) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def lease_load(self):
        status, text = self.request('GET', '/metrics', timeout=30)
        if status != 200:
            raise RuntimeError(f'GET /metrics answered {status}')
        requests, watches = {}, 0
        for line in text.splitlines():
            for pattern in (_REQUESTS, _WATCHES):
                match = pattern.match(line)
                if not match:
                    continue
                labels = dict(_LABEL.findall(match['labels']))
                if labels.get('resource') != 'leases':
                    continue
                value = float(match['value'])
                if pattern is _WATCHES:
                    watches += int(value) if labels.get('verb') == 'WATCH' else 0
                else:
                    requests[labels['verb']] = requests.get(labels['verb'], 0) + value
        return LeaseLoad(requests, watches)

    def lease_path(self, name, namespace='default'):
        return f'/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}'

    def get_lease(self, name):
        status, lease = self.request('GET', self.lease_path(name))
        return lease if status == 200 else None

    def create_lease(self, name, spec):
        """POST a lease as another writer would; returns the status."""
        body = {'apiVersion': 'coordination.k8s.io/v1', 'kind': 'Lease',
                'metadata': {'name': name}, 'spec': spec}
        status, _ = self.request('POST', self.lease_path(name).rsplit('/', 1)[0], body)
        return status

    def delete_lease(self, name):
        status, _ = self.request('DELETE', self.lease_path(name))
        return status

    def replace_lease(self, lease):
        """PUT as another writer would; returns the status (409: lost a race)."""
        status, _ = self.request('PUT', self.lease_path(lease['metadata']['name']), lease)
        return status

    def annotate_lease(self, name, key, value):
        """A metadata-only write (merge patch, no conflicts); returns the status."""
        patch = {'metadata': {'annotations': {key: value}}}
        status, _ = self.request('PATCH', self.lease_path(name), patch,
                                 content_type='application/merge-patch+json')
        return status

    def watch_refused(self, name, version):
        """Whether a watch of the lease from `version` is refused with 410
        Gone: the API server's watch cache no longer reaches back to it."""
        collection = self.lease_path(name).rsplit('/', 1)[0]
        path = (f'{collection}?watch=1&resourceVersion={version}'
                f'&fieldSelector=metadata.name%3D{name}&timeoutSeconds=1')
        status, body = self.request('GET', path)
        # Refused either outright or as the watch's one ERROR event.
        text = body if isinstance(body, str) else json.dumps(body, separators=(',', ':'))
        return status == 410 or '"code":410' in text

    def apiserver_pid(self):
        return int((self.dir / 'apiserver.pid').read_text())

    def ctl(self, action, component):
        """Stops, starts or restarts the API server or etcd, keeping its data."""
        subprocess.run(
            [str(ROOT / 'tests' / 'cluster' / 'ctl'), action, component],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, 'ELECTOR_CLUSTER_DIR': str(self.dir)},
        )

    def kubeconfig_via(self, port, path):
        """A copy of the kubeconfig whose server is 127.0.0.1:port (a proxy)."""
        text = self.kubeconfig.read_text().replace(f'127.0.0.1:{self.port}', f'127.0.0.1:{port}')
        Path(path).write_text(text)
        return Path(path)
