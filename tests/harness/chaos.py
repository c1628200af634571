"""The chaos suite: faults against elections on the real control plane, each
scenario repeated, every elector's acquired and lost and every unit of its
leader work on one monotonic timeline, and a checker that reports any moment
two electors believed they led, any moment units of work of two processes
ran at once, and how long the lease went leaderless after each fault healed.

Every participant does leader work while it leads: units of up to 10 ms of
CPU and an await of up to 100 ms. Ours through `lead`, client-go inside
`OnStartedLeading(ctx)`, the JS package in its own idiom (check
`current_leader`, then run a unit).

Run it with tests/chaos (which builds and starts what it needs); tests/run
runs a short pass (one round of each scenario)."""

import argparse
import itertools
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import report
from fleet import CLIENT_GO, JS_PACKAGE, OURS, OURS_CLI, OURS_GO, OURS_NODE, OURS_RUBY, OURS_RUST, Fleet, now
from timeline import WAKE_REPORT_LIMIT_NS, leaderless, overlaps, terms, unit_overlaps, units, wakes
from toxiproxy import Toxiproxy, faults

# A standby whose clock runs this much fast: below lease / renew deadline (1.5),
# the bound within which the protocol is safe for any elector.
FAST_CLOCK_RATE = 1.25


@dataclass(frozen=True)
class Timings:
    """Our electors' timings, in seconds, and the lengths of faults and waits
    that follow from them."""

    lease: float
    renew_deadline: float
    retry: float

    @property
    def fault(self):
        """A fault outlasts the lease, so standbys judge it expired."""
        return self.lease * 4 / 3

    @property
    def settle(self):
        """Standbys are given this long to open their watches before a fault."""
        return self.retry

    @property
    def recovery(self):
        """How long after a fault heals the lease may go without a leader
        before the round counts as failed: a lease duration and more."""
        return 2 * self.lease

    @property
    def request_timeout(self):
        return min(self.renew_deadline / 2, self.lease - self.renew_deadline)

    @staticmethod
    def ms(seconds):
        return int(seconds * 1000)

    def flags(self):
        """The Rust participant's flags for these timings."""
        return ['--lease-duration-ms', str(self.ms(self.lease)), '--renew-deadline-ms',
                str(self.ms(self.renew_deadline)), '--retry-period-ms', str(self.ms(self.retry))]

    def elector_flags(self):
        """`elector run`'s flags for these timings."""
        return ['--lease-duration', f'{self.ms(self.lease)}ms', '--renew-deadline',
                f'{self.ms(self.renew_deadline)}ms', '--retry-period', f'{self.ms(self.retry)}ms']


# client-go's defaults, which every kind of participant runs by default.
DEFAULT_TIMINGS = Timings(15, 10, 2)
# --soak: compressed, so that many rounds fit in an hour.
SOAK_TIMINGS = Timings(3, 2, 0.5)
# kube-apiserver's watch cache keeps at least this much history (its
# eventFreshDuration); a version older than that may be refused with 410.
WATCH_CACHE_WINDOW_SECONDS = 75
# The dead holder's claim on the 410 storm's lease: longer than any round.
LONG_GONE_SECONDS = 3600
# The restarts take the control plane from every lane: they run alone.
RESTARTS = ('API server restarted', 'etcd restarted')
MIXED_FLEET = 'mixed fleet: leader killed or stopped'
BUSY_HANDOVER = 'graceful handover with a busy leader'
# Busy-leader handovers per round of each kind: the JS package takes about
# 9 s each (it polls), the others a settle period.
BUSY_HANDOVERS_JS_PACKAGE = 5
STALE_WATCH = '410 storm: watches of a lease older than the watch cache'
# Electors in the process whose one shared connection is cut: half lead leases
# of their own, half stand by on leases another process leads.
SHARED_CONNECTION_ELECTORS = 100
# Debian's faketime package, under the machine's multiarch directory.
LIBFAKETIME = next(iter(sorted(Path('/usr/lib').glob('*/faketime/libfaketime.so.1'))), None)


@dataclass
class Round:
    scenario: str
    lease: str
    fault_at: int
    healed_at: int
    end_at: int = 0
    notes: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    # False where a holder the harness wrote keeps the lease all round.
    leader_expected: bool = True
    # Every lease of the round, where it has more than `lease`.
    leases: list = field(default_factory=list)

    def all_leases(self):
        return self.leases or [self.lease]


class Gate:
    """Lanes run their rounds side by side, except rounds that take the
    control plane itself away: those run alone. A waiting restart goes first,
    or lanes that always have a round going would starve it."""

    def __init__(self):
        self._changed = threading.Condition()
        self._shared = 0
        self._alone = False
        self._waiting_alone = 0

    @contextmanager
    def shared(self):
        with self._changed:
            self._changed.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._shared += 1
        try:
            yield
        finally:
            with self._changed:
                self._shared -= 1
                self._changed.notify_all()

    @contextmanager
    def alone(self):
        with self._changed:
            self._waiting_alone += 1
            self._changed.wait_for(lambda: not self._alone and not self._shared)
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._changed:
                self._alone = False
                self._changed.notify_all()


class Suite:
    def __init__(self, cluster, fleet, toxiproxy, timings=DEFAULT_TIMINGS, lane=0, handovers=40,
                 ours_work='scoped'):
        self.cluster, self.fleet, self.toxiproxy = cluster, fleet, toxiproxy
        self.handovers = handovers
        self.ours_work = ours_work
        self.timings = timings
        self.faults = faults(timings)
        self.rounds = []
        self.lane = lane
        self._leases = itertools.count()
        self.mixed_rounds = 0
        self.proxied_kubeconfig = cluster.kubeconfig_via(toxiproxy.port, fleet.log_dir / 'kubeconfig-proxied')
        self.stale = None  # the 410 storm's next lease, ageing
        self.filler = None

    def lease(self, scenario):
        slug = re.sub('[^a-z0-9]+', '-', scenario.lower()).strip('-')[:36].strip('-')
        return f'chaos-{slug}-{os.getpid()}-{self.lane}-{next(self._leases)}'

    def prepare(self, names):
        """Starts what must age before its round: the 410 storm's lease."""
        if STALE_WATCH in names:
            self.stale = self.stale_lease()

    def start(self, kind, lease, **options):
        """A participant doing leader work; ours in Rust and `elector run` run
        at the suite's timings."""
        if kind == OURS_RUST and self.timings != DEFAULT_TIMINGS:
            options['args'] = self.timings.flags()
        if kind == OURS_CLI and self.timings != DEFAULT_TIMINGS:
            options['args'] = self.timings.elector_flags()
        options.setdefault('work', self.ours_work if kind in (OURS_RUST, OURS_NODE) else 'scoped')
        return self.fleet.start(kind, lease, **options)

    def say(self, text):
        print(f'  {text}', flush=True)

    def elect(self, lease, leader_kind=OURS_RUST, standbys=((OURS_RUST, {}), (OURS_RUST, {})), leader_options=None):
        """A leader that has acquired, and standbys that have started and
        settled. Fails the round if no leader comes."""
        leader = self.start(leader_kind, lease, **(leader_options or {}))
        if not leader.wait_event('acquired', 30):
            raise RuntimeError(f'{leader.name} did not acquire {lease} (log: {leader.log})')
        others = [self.start(kind, lease, **options) for kind, options in standbys]
        for other in others:
            if not other.wait_event('started', 30):
                raise RuntimeError(f'{other.name} did not start (log: {other.log})')
        time.sleep(self.timings.settle)
        return leader, others

    def recover(self, lease):
        """Waits until someone leads the lease again."""
        deadline = time.monotonic() + self.timings.recovery
        while not self.fleet.leaders(lease) and time.monotonic() < deadline:
            time.sleep(0.05)

    def finish(self, round_):
        # A leader still in office when the fault healed may step down up
        # to a renew deadline later (its last renewal came before the fault);
        # only a leader after that shows the lease recovered.
        time.sleep(max(0.0, (round_.healed_at - now()) / 1e9 + self.timings.renew_deadline))
        for lease in round_.all_leases():
            self.recover(lease)
        time.sleep(self.timings.settle)
        round_.end_at = now()
        self.fleet.stop_all()
        self.rounds.append(round_)

    # The scenarios. Each runs one round on a lease of its own.

    def cut_off(self, name, fault, standbys=((OURS_RUST, {}), (OURS_RUST, {}))):
        """The leader reaches the API server through toxiproxy, which applies
        the fault for longer than the lease."""
        lease = self.lease(name)
        leader, _ = self.elect(lease, standbys=standbys, leader_options={'kubeconfig': self.proxied_kubeconfig})
        fault_at = now()
        for kind, stream, attributes in self.faults[fault]:
            self.toxiproxy.add(kind, stream, **attributes)
        time.sleep(self.timings.fault)
        self.toxiproxy.clear()
        round_ = Round(name, lease, fault_at, now())
        lost = leader.wait_event('lost', 0, since=fault_at)
        if lost:
            round_.notes.append(f'leader stepped down after {report.seconds(lost.at - fault_at)}')
        else:
            # A fault that outlasts the lease and changes nothing did not apply.
            round_.failures.append('the leader did not step down while cut off')
        self.finish(round_)

    def partition(self, fault):
        return lambda name: self.cut_off(name, fault)

    def shared_connection(self, fault):
        """SHARED_CONNECTION_ELECTORS electors in one process, all on the
        connections it shares among them, through toxiproxy: leaders of half
        the leases, standbys on the other half, which a second process leads
        directly. A third process stands by on the first half, directly. The
        fault cuts the shared connections for longer than the lease; then the
        second process stops, and the shared process's standbys must take its
        leases over their watches, which shows the connections came back."""
        def run(name):
            base, half = self.lease(name), SHARED_CONNECTION_ELECTORS // 2
            leases = [f'{base}-{i}' for i in range(2 * half)]
            others = self.start(OURS_RUST, base, count=half, distinct_leases=True, first_index=half)
            if not others.wait_all('acquired', 60):
                raise RuntimeError(f'{others.name} did not acquire its leases (log: {others.log})')
            shared = self.start(OURS_RUST, base, count=2 * half, distinct_leases=True,
                                kubeconfig=self.proxied_kubeconfig)
            for index in range(half):
                if not shared.wait_event('acquired', 60, index):
                    raise RuntimeError(f'{shared.name} did not acquire {leases[index]} (log: {shared.log})')
            standbys = self.start(OURS_RUST, base, count=half, distinct_leases=True)
            if not (shared.wait_all('started', 60) and standbys.wait_all('started', 60)):
                raise RuntimeError(f'the standbys did not start (logs: {shared.log}, {standbys.log})')
            time.sleep(self.timings.settle)
            fault_at = now()
            for kind, stream, attributes in self.faults[fault]:
                self.toxiproxy.add(kind, stream, **attributes)
            time.sleep(self.timings.fault)
            self.toxiproxy.clear()
            round_ = Round(name, base, fault_at, now(), leases=leases)
            # Each leader's last renewal came before the fault: it must step
            # down by a renew deadline after the fault began (and a second
            # for its process to print it).
            stepped_down = [shared.wait_event('lost', 0, i, since=fault_at) for i in range(half)]
            late = [leases[i] for i, lost in enumerate(stepped_down)
                    if not lost or lost.at - fault_at > (self.timings.renew_deadline + 1) * 1e9]
            slowest = max((e.at - fault_at for e in stepped_down if e), default=None)
            round_.notes.append(f'{half - len(late)}/{half} leaders stepped down within the renew deadline'
                                + (f' (the last after {report.seconds(slowest)})' if slowest else ''))
            if late:
                round_.failures.append(f'leaders that did not step down by their renew deadline: {late}')
            time.sleep(max(0.0, (round_.healed_at - now()) / 1e9 + self.timings.lease + 1))
            leaderless_leases = [lease for lease in leases if not self.fleet.leaders(lease)]
            if leaderless_leases:
                round_.failures.append(f'leases without a leader a lease duration + 1 s after the fault healed: '
                                       f'{leaderless_leases}')
            released = others.terminate()
            taken = [shared.wait_event('acquired', self.timings.lease + 1, i, since=released.at)
                     for i in range(half, 2 * half)]
            missing = [leases[i] for i, e in zip(range(half, 2 * half), taken) if not e]
            if missing:
                round_.failures.append(f'leases the shared standbys did not take within a lease of the release: '
                                       f'{missing}')
            else:
                slowest = max(e.at for e in taken) - released.at
                round_.notes.append(f'after the heal, {half} released leases taken over the shared connection '
                                    f'within {report.seconds(slowest)}')
            self.finish(round_)
        return run

    def restart(self, component):
        def run(name):  # one of RESTARTS
            lease = self.lease(name)
            self.elect(lease)
            fault_at = now()
            self.cluster.ctl('restart', component)
            round_ = Round(name, lease, fault_at, now())
            round_.notes.append(f'down {report.seconds(round_.healed_at - fault_at)}')
            self.finish(round_)
        return run

    def conflict_storm(self, name):
        lease = self.lease(name)
        self.elect(lease)
        fault_at = now()
        writes = conflicts = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                current = self.cluster.get_lease(lease)
                if current is None:
                    continue
                annotations = current['metadata'].setdefault('annotations', {})
                annotations['chaos.elector.dev/bump'] = str(writes)
                status = self.cluster.replace_lease(current)
            except OSError:  # the writer's own connection trouble is not the elector's
                continue
            writes += status == 200
            conflicts += status == 409
        round_ = Round(name, lease, fault_at, now())
        round_.notes.append(f'{writes} writes, {conflicts} lost races')
        self.finish(round_)

    def leader_killed(self, name):
        lease = self.lease(name)
        leader, _ = self.elect(lease)
        killed = leader.kill()
        self.finish(Round(name, lease, killed.at, killed.at))

    def cli_leader_killed(self, name):
        """`elector run` killed with SIGKILL while its program works: the
        program dies with it (its parent-death signal), before the lease can
        expire and the next program start."""
        lease = self.lease(name)
        leader, _ = self.elect(lease, leader_kind=OURS_CLI, standbys=((OURS_CLI, {}), (OURS_CLI, {})))
        busy = leader.wait_event('unit_begin', 10, since=now())
        if not busy:
            raise RuntimeError(f'{leader.name} did no leader work (log: {leader.log})')
        killed = leader.kill()
        self.finish(Round(name, lease, killed.at, killed.at))

    def leader_paused(self, name):
        lease = self.lease(name)
        leader, _ = self.elect(lease)
        paused = leader.pause()
        time.sleep(self.timings.fault)
        resumed = leader.resume()
        leader.wait_event('lost', 5, since=resumed.at)
        self.finish(Round(name, lease, paused.at, resumed.at))

    def fast_clock(self, name):
        # libfaketime preloaded into the participant itself (the faketime
        # command would put a parent in between that forwards no signals).
        if LIBFAKETIME is None:
            raise RuntimeError('libfaketime.so.1 not found: install the faketime package (tests/setup does)')
        fast = {'env': {'LD_PRELOAD': str(LIBFAKETIME), 'FAKETIME': f'+0 x{FAST_CLOCK_RATE}'}}
        self.cut_off(name, 'blackhole', standbys=((OURS_RUST, fast), (OURS_RUST, {})))

    def mixed_fleet(self, name):
        """Ours (Rust and Node.js), client-go and the JS package on one lease;
        the leader is killed (odd rounds) or stopped (even rounds), then
        replaced by a fresh process of its kind."""
        lease = self.lease(name)
        kinds = (OURS_RUST, OURS_NODE, CLIENT_GO, JS_PACKAGE)
        leader, _ = self.elect(lease, standbys=[(kind, {}) for kind in kinds[1:]])
        self.mixed_rounds += 1
        disrupt = leader.kill if self.mixed_rounds % 2 else leader.terminate
        fault_at = disrupt().at
        self.start(leader.kind, lease)
        self.finish(Round(name, lease, fault_at, fault_at))

    def busy_handover(self, kind):
        """A chain of graceful handovers (SIGTERM) of a leader in the middle
        of a unit of work, each to a fresh standby of its kind. The standby
        must begin its first unit only after the old leader's last one ends."""
        def run(name):
            lease = self.lease(name)
            leader, _ = self.elect(lease, leader_kind=kind, standbys=())
            count = min(self.handovers, BUSY_HANDOVERS_JS_PACKAGE) if kind == JS_PACKAGE else self.handovers
            fault_at, gaps = now(), []
            for _ in range(count):
                standby = self.start(kind, lease)
                if not standby.wait_event('started', 30):
                    raise RuntimeError(f'{standby.name} did not start (log: {standby.log})')
                time.sleep(self.timings.settle)  # its watch is open
                busy = leader.wait_event('unit_begin', 10, since=now())
                if not busy:
                    raise RuntimeError(f'{leader.name} did no leader work (log: {leader.log})')
                leader.terminate(wait=False)
                first = standby.wait_event('unit_begin', 2 * self.timings.lease + 10, since=busy.at)
                leader.wait(30)
                if not first:
                    raise RuntimeError(f'{standby.name} did not take over (log: {standby.log})')
                last = self.fleet.wait_for(lambda e: e.holder == (leader.name, 0) and e.kind == 'unit_end'
                                           and e.at >= busy.at, 0)
                if last:
                    gaps.append(first.at - last.at)
                leader = standby
            round_ = Round(name, lease, fault_at, now())
            if gaps:
                gaps.sort()
                round_.notes.append(f'{count} handovers, last unit\'s end to the next leader\'s first unit: '
                                    f'p50 {report.ms(gaps[len(gaps) // 2])}, max {report.ms(gaps[-1])}')
            self.finish(round_)
        return run

    def slow_follower(self, name):
        """The standbys reach the API server through toxiproxy, whose answers
        come 2 s late at client-go's timings, while the leader renews
        directly; then the leader is paused past its lease. A standby must
        time each version from when its late answer arrived, and still take
        over while the leader sleeps. A takeover on a new connection waits
        for two late answers (the TLS handshake's and the write's), so the
        latency stays below half the request timeout, and the pause lasts
        that much longer than other faults."""
        lease = self.lease(name)
        proxied = {'kubeconfig': self.proxied_kubeconfig}
        leader, _ = self.elect(lease, standbys=((OURS_RUST, proxied), (OURS_RUST, proxied)))
        latency = 0.4 * self.timings.request_timeout
        self.toxiproxy.add('latency', 'downstream', latency=self.timings.ms(latency), jitter=0)
        time.sleep(self.timings.settle + latency)
        paused = leader.pause()
        time.sleep(self.timings.fault + 3 * latency)
        resumed = leader.resume()
        leader.wait_event('lost', 5, since=resumed.at)
        self.toxiproxy.clear()
        round_ = Round(name, lease, paused.at, resumed.at)
        taken = self.fleet.wait_for(lambda e: e.lease == lease and e.kind == 'acquired' and e.at > paused.at, 0)
        if taken is None or taken.at > resumed.at:
            round_.failures.append('no standby took over while the leader was paused')
        else:
            round_.notes.append(f'taken over {report.seconds(taken.at - paused.at)} after the pause')
        self.finish(round_)

    def metadata_writer(self, name):
        """The leader is killed while another writer bumps an annotation on
        its lease every retry period: the election record stands still, so a
        standby takes over once it expires, writes or not."""
        lease = self.lease(name)
        leader, _ = self.elect(lease)
        killed = leader.kill()
        round_ = Round(name, lease, killed.at, killed.at)
        writes, deadline = 0, time.monotonic() + self.timings.fault + 5
        while time.monotonic() < deadline:
            time.sleep(self.timings.retry)
            current = self.cluster.get_lease(lease)
            if current is None:
                continue
            current['metadata'].setdefault('annotations', {})['chaos.elector.dev/bump'] = str(writes)
            writes += self.cluster.replace_lease(current) == 200
        taken = self.fleet.wait_for(lambda e: e.lease == lease and e.kind == 'acquired' and e.at > killed.at, 0)
        if taken is None:
            round_.failures.append(f'no standby took over while {writes} annotation writes went on')
        else:
            round_.notes.append(f'taken over {report.seconds(taken.at - killed.at)} after the kill, '
                                f'{writes} annotation writes')
        self.finish(round_)

    def identity_collision(self, name):
        """A second process runs under the leader's identity. It never leads
        beside the first: it waits while the first renews; when the first is
        paused past its lease it takes over in a new term, and the first,
        woken, steps down and leaves the lease to it."""
        lease = self.lease(name)
        leader, _ = self.elect(lease, standbys=())
        twin = self.start(OURS_RUST, lease, identity=leader.name)
        if not twin.wait_event('started', 30):
            raise RuntimeError(f'{twin.name} did not start (log: {twin.log})')
        time.sleep(self.timings.settle)
        paused = leader.pause()
        time.sleep(self.timings.fault)
        resumed = leader.resume()
        round_ = Round(name, lease, paused.at, resumed.at)
        taken = twin.wait_event('acquired', self.timings.retry)
        if taken is None or taken.at < paused.at:
            round_.failures.append(f'the twin took over at {taken.at if taken else None}, not once the lease expired')
        else:
            round_.notes.append(f'the twin led in {taken.detail}')
        time.sleep(self.timings.lease)
        if leader.wait_event('acquired', 0, since=resumed.at):
            round_.failures.append('the first process took the lease back from its twin')
        self.finish(round_)

    def recreated_at_zero(self, name):
        """The lease, at term 7, is deleted under its live leader and at once
        created again by another writer at leaseTransitions 0. Ours wait out
        that writer's claim, and the next term of ours is above every term
        before: a fencing token never goes down."""
        lease = self.lease(name)
        self.cluster.create_lease(lease, {'holderIdentity': '', 'leaseTransitions': 7})
        leader, _ = self.elect(lease)
        fault_at = now()
        self.cluster.delete_lease(lease)
        status = self.cluster.create_lease(lease, {
            'holderIdentity': 'another-writer', 'leaseDurationSeconds': int(self.timings.lease),
            'leaseTransitions': 0, 'renewTime': time.strftime('%Y-%m-%dT%H:%M:%S.000000Z', time.gmtime()),
        })
        round_ = Round(name, lease, fault_at, now())
        if status != 201:
            round_.failures.append(f'could not re-create the lease: {status}')
        taken = self.fleet.wait_for(lambda e: e.lease == lease and e.kind == 'acquired' and e.at > fault_at,
                                    self.timings.lease + 15)
        term = int(taken.detail.removeprefix('term=')) if taken else None
        if term is None or term <= 8:
            round_.failures.append(f'the next term was {term}, not above 8')
        else:
            round_.notes.append(f'next term {term}, {report.seconds(taken.at - fault_at)} after the re-create')
        self.finish(round_)

    def stale_lease(self):
        """A lease whose holder died with an hour's claim, written once: it
        ages while other rounds run. Returns its name and when it was written."""
        lease = self.lease(STALE_WATCH)
        status = self.cluster.create_lease(lease, {
            'holderIdentity': 'long-gone', 'leaseDurationSeconds': LONG_GONE_SECONDS, 'leaseTransitions': 1,
            'renewTime': time.strftime('%Y-%m-%dT%H:%M:%S.000000Z', time.gmtime()),
        })
        if status != 201:
            raise RuntimeError(f'could not create {lease}: {status}')
        return lease, time.monotonic()

    def outdate(self, lease, written):
        """Waits until the API server refuses a watch from the lease's version
        (410 Gone): past the watch cache's window, and then with enough writes
        to another lease to push that version out of the cache. Returns the
        writes it took."""
        version = self.cluster.get_lease(lease)['metadata']['resourceVersion']
        if self.filler is None:
            self.filler = self.lease('filler')
            self.cluster.create_lease(self.filler, {})
        writes, deadline = 0, time.monotonic() + WATCH_CACHE_WINDOW_SECONDS + 240
        while not self.cluster.watch_refused(lease, version):
            if time.monotonic() > deadline:
                raise RuntimeError(f'the API server still serves watches of {lease} from {version}')
            if time.monotonic() < written + WATCH_CACHE_WINDOW_SECONDS + 1:
                time.sleep(1)  # younger than the window: writes would only grow the cache
                continue
            for _ in range(100):
                writes += self.cluster.annotate_lease(self.filler, 'chaos.elector.dev/bump', str(writes)) == 200
        return writes

    def stale_watch(self, name):
        """Candidates watch a lease whose own version the API server's watch
        cache no longer holds (its holder died with a long claim, and nobody
        writes it): the harness checks that a watch from it is refused with
        410 Gone. Their connections are cut. An elector that reopened from
        the lease's version would loop on 410 (GET, WATCH, 410) as fast as
        round trips allow; ours reopen from the last version their watch
        delivered (bookmarks keep it recent) or from the current state, and
        back off after errors. Each makes at most one request per retry
        period over the round."""
        (lease, written), self.stale = self.stale or self.stale_lease(), None
        writes = self.outdate(lease, written)
        debug = {'kubeconfig': self.proxied_kubeconfig, 'env': {'RUST_LOG': 'elector_core=debug'}}
        candidates = [self.start(OURS_RUST, lease, **debug) for _ in range(3)]
        # Cut as soon as every watch is open, well within a retry period of
        # the first read: each reopens from the version its watch delivered,
        # not from a fresh read (which would start it from the current state).
        deadline = time.monotonic() + 30
        while not all('watching the lease' in c.log.read_text() for c in candidates):
            if time.monotonic() > deadline:
                raise RuntimeError(f'the candidates did not open their watches (logs in {self.fleet.log_dir})')
            time.sleep(0.01)
        cut = now()
        self.toxiproxy.cut()
        round_ = Round(name, lease, cut, now(), leader_expected=False)
        time.sleep(10 * self.timings.retry)
        round_.end_at = now()
        self.fleet.stop_all()
        counts = []
        for candidate in candidates:
            requests = candidate.wait_event('requests', 5)
            if requests is None:
                round_.failures.append(f'{candidate.name} printed no request count (log: {candidate.log})')
                continue
            counted = dict(item.split('=') for item in requests.detail.split())
            total = int(counted['total'])
            # The cut must have reached it, or the round tested nothing.
            if int(counted['watch_restarts']) < 1:
                round_.failures.append(f'{candidate.name} never reopened its watch (log: {candidate.log})')
            allowed = (requests.at - candidate.spawned_at) / 1e9 / self.timings.retry
            counts.append(total)
            if total > allowed:
                round_.failures.append(f'{candidate.name} made {total} requests, over {allowed:.0f}')
        taken = self.fleet.wait_for(lambda e: e.lease == lease and e.kind == 'acquired', 0)
        if taken is not None:
            round_.failures.append(f'{taken.holder[0]} took a lease with an hour\'s claim left')
        round_.notes.append(f'requests per candidate {counts} in {report.seconds(round_.end_at - cut)} '
                            f'after the cut; {writes} writes to age the lease')
        self.rounds.append(round_)
        self.stale = self.stale_lease()  # the next round's

    def scenarios(self):
        runs = {f'partition: {fault}': self.partition(fault) for fault in self.faults}
        runs.update({f'shared connection of {SHARED_CONNECTION_ELECTORS} electors, {fault}': self.shared_connection(fault)
                     for fault in self.faults})
        runs.update({
            'API server restarted': self.restart('apiserver'),
            'etcd restarted': self.restart('etcd'),
            'conflict storm': self.conflict_storm,
            'leader killed (SIGKILL)': self.leader_killed,
            'elector run: its elector killed (SIGKILL) mid-unit': self.cli_leader_killed,
            'leader paused past its lease (SIGSTOP)': self.leader_paused,
            f'standby clock x{FAST_CLOCK_RATE}, leader cut off': self.fast_clock,
            MIXED_FLEET: self.mixed_fleet,
            'slow answers to the standbys, leader paused': self.slow_follower,
            'annotation writer on a dead leader\'s lease': self.metadata_writer,
            'two processes with one identity': self.identity_collision,
            'lease re-created at term 0 by another writer': self.recreated_at_zero,
            STALE_WATCH: self.stale_watch,
        })
        for kind in (OURS_RUST, OURS_NODE, OURS_GO, OURS_RUBY, OURS_CLI, CLIENT_GO, JS_PACKAGE):
            runs[f'{BUSY_HANDOVER} ({kind})'] = self.busy_handover(kind)
        return runs


@dataclass
class Finding:
    overlaps_ours: list
    overlaps_peers: list
    gaps: list
    unrecovered: int
    wakes: list
    failures: list
    # Units of leader work of two processes at once: involving ours; in a
    # process frozen by SIGSTOP mid-unit (no elector can stop those); and
    # among the peers, by kind.
    work_ours: list
    work_paused: list
    work_client_go: list
    work_js_package: list

    @classmethod
    def empty(cls):
        return cls([], [], [], 0, [], [], [], [], [], [])


def check(fleet, rounds):
    kinds = {p.name: p.kind for p in fleet.all_participants}
    finding = Finding.empty()
    for round_ in rounds:
        for lease in round_.all_leases():
            # The harness's marks (kill, pause, exit) name a participant's first lease.
            events = [e for e in fleet.events if e.lease == lease or e.holder[1] == -1 and e.lease == round_.lease]
            check_lease(finding, kinds, events, round_)
        finding.failures += round_.failures
    return finding


def check_lease(finding, kinds, events, round_):
    """Adds what one lease's events show to the finding."""
    found = terms(events, until=round_.end_at)
    for overlap in overlaps(found):
        involved = {kinds[overlap.first.holder[0]], kinds[overlap.second.holder[0]]}
        (finding.overlaps_ours if involved & set(OURS) else finding.overlaps_peers).append(overlap)
    for overlap in unit_overlaps(units(events, until=round_.end_at)):
        involved = {kinds[overlap.first.holder[0]], kinds[overlap.second.holder[0]]}
        if overlap.first.paused or overlap.second.paused:
            finding.work_paused.append(overlap)
        elif involved & set(OURS):
            finding.work_ours.append(overlap)
        elif CLIENT_GO in involved:
            finding.work_client_go.append(overlap)
        else:
            finding.work_js_package.append(overlap)
    gaps = leaderless(found, round_.fault_at, round_.end_at) if round_.leader_expected else []
    if gaps and gaps[-1][1] == round_.end_at:
        finding.unrecovered += 1
    else:
        finding.gaps += [to - since for since, to in gaps]
    finding.wakes += wakes(events)
    finding.failures += [f'{e.holder[0]} printed {e.detail!r}' for e in events if e.kind == 'garbage']


def duration(text):
    """'90s', '30m', '2h' or plain seconds."""
    units = {'s': 1, 'm': 60, 'h': 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def run_lane(suite, scenarios, schedule, gate, label, rounds, errors, lane_errors):
    """Runs the scheduled rounds on one suite; restarts run alone. A lane
    that breaks down is itself a failure of the run, never a silent end."""
    try:
        for name in schedule:
            number = len(rounds[name]) + len(errors[name]) + 1
            print(f'== {label}{name}, round {number}', flush=True)
            started = time.monotonic()
            with gate.alone() if name in RESTARTS else gate.shared():
                try:
                    scenarios[name](name)
                except Exception as err:  # a round that could not run fails; the others go on
                    errors[name].append(f'{label}round {number} could not run: {err}')
                    suite.say(errors[name][-1])
                    # Cleaned up before a restart may run, and no fault left behind.
                    suite.fleet.stop_all()
                    suite.toxiproxy.reset()
                    continue
            rounds[name].append((suite.fleet, suite.rounds[-1]))
            suite.say(f'{label}{name}: {time.monotonic() - started:.0f} s; {"; ".join(suite.rounds[-1].notes)}')
    except BaseException as err:  # reported, and the run fails
        lane_errors.append(f'{label}the lane broke down: {err!r}')
        print(f'  {lane_errors[-1]}', flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--rounds', type=int, default=5, help='rounds of each scenario (default 5)')
    parser.add_argument('--soak', type=duration, metavar='DURATION',
                        help='instead of --rounds: every scenario in turn, at compressed timings '
                             f'({SOAK_TIMINGS.lease:g} s / {SOAK_TIMINGS.renew_deadline:g} s / '
                             f'{SOAK_TIMINGS.retry:g} s), until DURATION (90s, 30m, 2h) has passed')
    parser.add_argument('--lanes', type=int,
                        help='with --soak: this many rounds side by side, each on leases and a proxy of its '
                             'own; the restarts run alone, in the first lane (default 3)')
    parser.add_argument('--only', help='run the scenarios whose name contains this')
    parser.add_argument('--handovers', type=int, default=40,
                        help=f'handovers in each round of "{BUSY_HANDOVER}" (default 40; '
                             f'the JS package does at most {BUSY_HANDOVERS_JS_PACKAGE})')
    parser.add_argument('--ours-work', choices=('scoped', 'idiom'), default='scoped',
                        help='how ours does leader work: through lead (default), or in the drop-in idiom '
                             '(check is_leader, then run a unit), which the handover does not wait for')
    parser.add_argument('--out', default='tests/results/chaos.md')
    args = parser.parse_args()
    if args.lanes is not None and not args.soak:
        parser.error('--lanes goes with --soak')
    lanes = (args.lanes or 3) if args.soak else 1
    if lanes < 1:
        parser.error('--lanes: at least 1')
    stopping = threading.Event()

    first = Fleet.from_environment('chaos')
    fleets = [first] + [Fleet(first.cluster, first.log_dir / f'lane-{lane}', first.participant_bin, first.peers_dir,
                              tag=f'l{lane}-') for lane in range(1, lanes)]
    suites = []
    for lane, fleet in enumerate(fleets):
        toxiproxy = Toxiproxy(fleet.peers_dir / 'toxiproxy-server', fleet.cluster.port, fleet.log_dir / 'toxiproxy.log')
        suites.append(Suite(fleet.cluster, fleet, toxiproxy, SOAK_TIMINGS if args.soak else DEFAULT_TIMINGS, lane,
                            args.handovers, args.ours_work))
    scenarios = [{name: run for name, run in suite.scenarios().items() if not args.only or args.only in name}
                 for suite in suites]
    names = list(scenarios[0])
    if args.soak:
        # The other kinds run their own timings; a mixed lease is no soak of ours.
        names = [name for name in names if name != MIXED_FLEET
                 and not (name.startswith(BUSY_HANDOVER) and name.endswith(f'({CLIENT_GO})'))
                 and not (name.startswith(BUSY_HANDOVER) and name.endswith(f'({JS_PACKAGE})'))]
        print(f'chaos: soak for {args.soak:g} s in {lanes} lane(s), every scenario in turn; '
              f'participant logs in {first.log_dir}', flush=True)
        until = time.monotonic() + args.soak

        def schedule(lane):
            # Each lane starts at another point of the cycle; only the first restarts.
            mine = [n for n in names if lane == 0 or n not in RESTARTS]
            offset = lane * len(mine) // lanes
            return itertools.takewhile(lambda _: time.monotonic() < until and not stopping.is_set(),
                                       itertools.cycle(mine[offset:] + mine[:offset]))
    else:
        print(f'chaos: {args.rounds} round(s) of each scenario; participant logs in {first.log_dir}', flush=True)

        def schedule(_lane):
            return (name for name in names for _ in range(args.rounds) if not stopping.is_set())

    rounds = {name: [] for name in names}
    errors = {name: [] for name in names}
    lane_errors = []
    gate = Gate()
    threads = []
    try:
        for suite in suites:
            suite.prepare(names)
        for lane, suite in enumerate(suites):
            label = f'[lane {lane}] ' if lanes > 1 else ''
            threads.append(threading.Thread(
                target=run_lane,
                args=(suite, scenarios[lane], schedule(lane), gate, label, rounds, errors, lane_errors)))
            threads[-1].start()
        for thread in threads:
            thread.join()
    finally:
        stopping.set()  # on Ctrl-C: the lanes end after their round
        for thread in threads:
            thread.join()
        for suite in suites:
            suite.fleet.stop_all()
            suite.toxiproxy.close()

    rows, failed = [], False
    for name in names:
        finding = Finding.empty()
        for fleet in fleets:
            lane_finding = check(fleet, [round_ for owner, round_ in rounds[name] if owner is fleet])
            for attribute in vars(finding):
                setattr(finding, attribute, getattr(finding, attribute) + getattr(lane_finding, attribute))
        finding.failures += errors[name]
        if not rounds[name] and not errors[name]:
            continue  # the soak ended before its turn
        print(f'== {name}: {len(rounds[name])} round(s)')
        for overlap in finding.overlaps_ours + finding.overlaps_peers:
            print(f'  OVERLAP {overlap.first.holder} and {overlap.second.holder} for {report.ms(overlap.duration_ns)}')
        for label, found in (('', finding.work_ours), (' (frozen by SIGSTOP mid-unit)', finding.work_paused),
                             (' (client-go)', finding.work_client_go), (' (JS package)', finding.work_js_package)):
            for overlap in found:
                print(f'  WORK OVERLAP{label} {overlap.first.holder} and {overlap.second.holder} '
                      f'for {report.ms(overlap.duration_ns)}')
        late_wakes = [w for w in finding.wakes
                      if w.reported is None or w.reported - w.resumed > WAKE_REPORT_LIMIT_NS]
        for failure in finding.failures:
            print(f'  FAILED {failure}')
        failed |= bool(finding.overlaps_ours) or finding.unrecovered > 0 or bool(late_wakes)
        failed |= bool(finding.work_ours)
        failed |= bool(finding.failures)
        wake = ''
        if finding.wakes:
            worst = max((w.reported - w.resumed for w in finding.wakes if w.reported), default=None)
            wake = (f'wake → lost ≤ {report.ms(worst)}, first event after waking: '
                    + ', '.join(sorted({w.first_event for w in finding.wakes})))
        rows.append([
            name, len(rounds[name]), len(finding.overlaps_ours), len(finding.overlaps_peers),
            len(finding.work_ours), len(finding.work_paused), len(finding.work_client_go),
            len(finding.work_js_package),
            report.seconds(max(finding.gaps)) if finding.gaps else 'none',
            finding.unrecovered, wake,
        ])
    for error in lane_errors:
        print(f'  FAILED {error}')
    failed |= bool(lane_errors)
    total = sum(len(r) for r in rounds.values())
    rows.append(['all', total] + [sum(r[i] for r in rows) for i in range(2, 8)]
                + ['', sum(r[9] for r in rows), ''])

    text = report.table(
        ['scenario', 'rounds', 'overlaps involving ours', 'overlaps among peers only',
         'work overlaps involving ours', 'work overlaps in a process frozen mid-unit (SIGSTOP)',
         'work overlaps, client-go', 'work overlaps, JS package',
         'longest leaderless gap from the fault on', 'rounds left without a leader', 'notes'],
        rows,
    )
    print('\n' + text)
    timings = suites[0].timings
    how = (f'Soak of {args.soak:g} s in {lanes} lanes at {timings.lease:g} s / {timings.renew_deadline:g} s / '
           f'{timings.retry:g} s (`tests/chaos --soak {args.soak:g}s --lanes {lanes}`)' if args.soak
           else f'Chaos suite, {args.rounds} round(s) per scenario (`tests/chaos --rounds {args.rounds}`)')
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(f'{how}:\n\n{text}\n')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
