"""Participants: elector processes of every kind on the local control plane,
their events on one timeline, and the signals the harness sends them.

Every participant prints `<CLOCK_MONOTONIC ns> <elector index> <event>
[detail]` lines (tests/participant, bindings/node/bench/participant.js,
bindings/go/examples/participant, bindings/ruby/bench/participant.rb,
tests/peers/client-go); time.monotonic_ns() reads the same clock, so the
harness's own marks (signals sent, faults applied) share the timeline."""

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cluster import ROOT, Cluster

# The kinds of participant, and how each runs `count` electors in one process.
OURS_RUST = 'ours (Rust)'
OURS_NODE = 'ours (Node.js)'
OURS_GO = 'ours (Go)'
OURS_RUBY = 'ours (Ruby)'
OURS_CLI = 'ours (elector run)'
CLIENT_GO = 'client-go'
JS_PACKAGE = 'JS package'
# The kinds the benchmarks compare; ours from Go and Ruby run in the chaos suite.
KINDS = (OURS_RUST, OURS_NODE, CLIENT_GO, JS_PACKAGE)
OURS = (OURS_RUST, OURS_NODE, OURS_GO, OURS_RUBY, OURS_CLI)
PREFIX = {OURS_RUST: 'rust', OURS_NODE: 'node', OURS_GO: 'ours-go', OURS_RUBY: 'ruby', OURS_CLI: 'cli',
          CLIENT_GO: 'go', JS_PACKAGE: 'js'}

# Lease durations as each kind runs (client-go's defaults; the JS package's own).
LEASE_SECONDS = {OURS_RUST: 15, OURS_NODE: 15, OURS_GO: 15, OURS_RUBY: 15, OURS_CLI: 15, CLIENT_GO: 15,
                 JS_PACKAGE: 20}


@dataclass(frozen=True)
class Event:
    at: int  # CLOCK_MONOTONIC, ns
    holder: tuple  # (participant name, elector index); index -1 for the harness's marks
    kind: str  # started, acquired, lost, stopped; or a mark: kill, pause, resume, exit
    detail: str
    lease: str


def now():
    return time.monotonic_ns()


class Fleet:
    """Every participant of a run, and the events they and the harness record."""

    def __init__(self, cluster, log_dir, participant_bin, peers_dir, tag=''):
        self.cluster = cluster
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.participant_bin = participant_bin
        self.peers_dir = Path(peers_dir)
        self.events = []
        self.participants = []  # running
        self.all_participants = []
        self._changed = threading.Condition()
        self._serial = 0
        self.tag = tag  # in every participant's name: fleets side by side stay apart

    @classmethod
    def from_environment(cls, command):
        """The fleet that tests/harness/run prepared: the control plane in
        ELECTOR_KUBECONFIG, the binaries in ELECTOR_PARTICIPANT and
        ELECTOR_PEERS, logs in ELECTOR_<COMMAND>_LOGS or a fresh /tmp directory."""
        cluster = Cluster(os.environ['ELECTOR_KUBECONFIG'])
        log_dir = os.environ.get(f'ELECTOR_{command.upper()}_LOGS', f'/tmp/elector-{command}-{os.getpid()}')
        return cls(cluster, log_dir, os.environ['ELECTOR_PARTICIPANT'], os.environ['ELECTOR_PEERS'])

    def record(self, event):
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def wait_for(self, predicate, timeout):
        """The first recorded event, past or future, that satisfies
        predicate; None after timeout seconds."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def start(self, kind, lease, count=1, distinct_leases=False, kubeconfig=None, env=None, identity=None,
              args=(), work=None, first_index=0):
        """A participant named uniquely; its electors' identity is the name
        unless `identity` is given. With `distinct_leases`, elector i takes
        lease `<lease>-<first_index + i>`. `identity`, `first_index` and
        `args` (more flags) are for ours in Rust only. `work`: None, or leader work while leading, printed
        as unit_begin and unit_end: 'scoped' (ours through lead, client-go in
        OnStartedLeading, the JS package in its own idiom) or 'idiom' (ours
        in the drop-in idiom: check is_leader, then run a unit)."""
        with self._changed:
            self._serial += 1
            name = f'{PREFIX[kind]}-{self.tag}{self._serial}'
        if (identity is not None or first_index) and kind != OURS_RUST or args and kind not in (OURS_RUST, OURS_CLI):
            raise ValueError(f'{kind} takes no identity, first index or flags')
        if work is not None:
            work_flags(kind, work)  # refused before anything starts
        participant = Participant(self, kind, name, lease, count, distinct_leases, kubeconfig, env or {},
                                  identity or name, list(args) + work_flags(kind, work), first_index)
        with self._changed:
            self.participants.append(participant)
            self.all_participants.append(participant)
        return participant

    def leaders(self, lease):
        """Holders that believe they lead the lease now, from the events so far."""
        leading = set()
        with self._changed:
            for event in self.events:
                if event.lease != lease:
                    continue
                if event.kind == 'acquired':
                    leading.add(event.holder)
                elif event.kind in ('lost', 'stopped'):
                    leading.discard(event.holder)
                elif event.kind in ('kill', 'exit'):
                    leading = {h for h in leading if h[0] != event.holder[0]}
        return leading

    def stop_all(self, timeout=30):
        for participant in self.participants:
            participant.terminate(wait=False)
        for participant in self.participants:
            participant.wait(timeout)
        self.participants = []


def work_flags(kind, work):
    """The flags that make a participant of `kind` do leader work."""
    if work is None:
        return []
    if work not in ('scoped', 'idiom') or (work == 'idiom' and kind not in OURS):
        raise ValueError(f'{kind} has no {work!r} work')
    if kind == OURS_RUST:
        return ['--work', 'lead' if work == 'scoped' else 'events']
    if kind == OURS_NODE:
        return ['--work', 'lead' if work == 'scoped' else 'idiom']
    if kind == OURS_CLI:
        if work == 'idiom':
            raise ValueError(f'{kind}: the program is the work, stopped before the handover')
        return []
    if kind in (OURS_GO, OURS_RUBY):
        if work == 'idiom':
            raise ValueError(f'{kind} runs its work through lead only')
        return ['-work' if kind == OURS_GO else '--work']
    if kind == JS_PACKAGE:
        return ['--work', 'idiom']
    return ['-work']


class Participant:
    """One process running `count` electors of one kind."""

    def __init__(self, fleet, kind, name, lease, count, distinct_leases, kubeconfig, extra_env, identity, args,
                 first_index=0):
        self.fleet, self.kind, self.name, self.lease, self.count = fleet, kind, name, lease, count
        self.distinct_leases, self.first_index = distinct_leases, first_index
        self.paused = False
        kubeconfig = str(kubeconfig or fleet.cluster.kubeconfig)
        env = {**os.environ, **extra_env}
        node_script = str(ROOT / 'bindings' / 'node' / 'bench' / 'participant.js')
        if kind == OURS_RUST:
            command = [fleet.participant_bin, '--kubeconfig', kubeconfig, '--lease', lease,
                       '--identity', identity, '--count', str(count)] + args
            command += ['--distinct-leases', '--first-index', str(first_index)] if distinct_leases else []
        elif kind == CLIENT_GO:
            command = [str(fleet.peers_dir / 'client-go-participant'), '-kubeconfig', kubeconfig,
                       '-lease', lease, '-identity', name, '-count', str(count)] + args
            command += ['-distinct-leases'] if distinct_leases else []
        elif kind == OURS_GO:
            # Built by tests/harness/run, as ELECTOR_GO_PARTICIPANT.
            command = [os.environ['ELECTOR_GO_PARTICIPANT'], '-kubeconfig', kubeconfig, '-lease', lease,
                       '-identity', name, '-count', str(count)] + args
            command += ['-distinct-leases'] if distinct_leases else []
        elif kind == OURS_RUBY:
            if distinct_leases:
                raise ValueError(f'{kind} runs one lease')
            # The gem's lib and its extension, as tests/harness/run lays them out.
            env['RUBYLIB'] = os.environ['ELECTOR_RUBY_LIB']
            command = ['ruby', str(ROOT / 'bindings' / 'ruby' / 'bench' / 'participant.rb'), kubeconfig, lease, name,
                       str(count)] + args
        elif kind == OURS_CLI:
            if distinct_leases or count != 1:
                raise ValueError(f'{kind} runs one elector')
            # Built by tests/harness/run, as ELECTOR_CLI.
            command = ['python3', str(ROOT / 'tests' / 'harness' / 'cli_participant.py'), os.environ['ELECTOR_CLI'],
                       kubeconfig, lease, name] + args
        elif kind in (OURS_NODE, JS_PACKAGE):
            impl = 'ours' if kind == OURS_NODE else 'original'
            command = ['node', node_script, impl, lease, name, str(count)] + args
            command += ['--distinct-leases'] if distinct_leases else []
            # As in a cluster: KUBERNETES_SERVICE_HOST set, credentials from
            # KUBECONFIG, whose current context is the elector user.
            env.update(KUBECONFIG=kubeconfig, KUBERNETES_SERVICE_HOST='127.0.0.1')
        else:
            raise ValueError(f'unknown kind {kind!r}')
        self.log = fleet.log_dir / f'{name}.log'
        self.spawned_at = now()
        with self.log.open('w') as log:  # the child keeps its own copy
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self):
        return self.process.pid

    def _read(self):
        try:
            for line in self.process.stdout:
                try:
                    at, index, kind, *detail = line.split(' ', 3)
                    event = Event(int(at), (self.name, int(index)), kind, ' '.join(detail).strip(),
                                  self.lease_of(int(index)))
                except ValueError:
                    # Not ours to parse: keep it in the log, keep reading.
                    event = Event(now(), (self.name, -1), 'garbage', line.strip(), self.lease)
                self.fleet.record(event)
        finally:
            self.process.wait()
            self.process.stdout.close()
            self.mark('exit', f'code={self.process.returncode}')

    def lease_of(self, index):
        return f'{self.lease}-{self.first_index + index}' if self.distinct_leases and index >= 0 else self.lease

    def mark(self, kind, detail=''):
        event = Event(now(), (self.name, -1), kind, detail, self.lease)
        self.fleet.record(event)
        return event

    def wait_event(self, kind, timeout, index=0, since=0):
        """The elector's next `kind` event at or after since; None after
        timeout seconds or once the process has exited."""
        event = self.fleet.wait_for(
            lambda e: e.at >= since and (e.holder == (self.name, index) and e.kind == kind
                                         or e.holder == (self.name, -1) and e.kind == 'exit'),
            timeout)
        return event if event is not None and event.kind == kind else None

    def wait_all(self, kind, timeout):
        """Waits until every elector of this process has printed `kind`."""
        deadline = time.monotonic() + timeout
        for index in range(self.count):
            if not self.wait_event(kind, max(0, deadline - time.monotonic()), index):
                return False
        return True

    def signal(self, signum, mark):
        event = self.mark(mark)
        if self.process.poll() is None:
            os.kill(self.pid, signum)
        return event

    def pause(self):
        self.paused = True
        return self.signal(signal.SIGSTOP, 'pause')

    def resume(self):
        self.paused = False
        return self.signal(signal.SIGCONT, 'resume')

    def terminate(self, wait=True, timeout=30):
        if self.process.poll() is None:
            if self.paused:
                self.resume()
            event = self.signal(signal.SIGTERM, 'terminate')
        else:
            event = self.mark('terminate', 'already exited')
        if wait:
            self.wait(timeout)
        return event

    def kill(self):
        event = self.signal(signal.SIGKILL, 'kill')
        self.process.wait()
        self.reader.join(5)
        return event

    def wait(self, timeout):
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.reader.join(5)
