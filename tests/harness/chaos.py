"""The chaos suite: faults against elections on the real control plane, each
scenario repeated, every elector's acquired and lost on one monotonic
timeline, and a checker that reports any moment two electors believed they
led and how long the lease went leaderless after each fault healed.

Run it with tests/chaos (which builds and starts what it needs); tests/run
runs a short pass (one round of each scenario)."""

import argparse
import itertools
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import report
from fleet import CLIENT_GO, JS_PACKAGE, OURS, OURS_NODE, OURS_RUST, Fleet, now
from timeline import WAKE_REPORT_LIMIT_NS, leaderless, overlaps, terms, wakes
from toxiproxy import Toxiproxy, faults

# Standbys are given this long to open their watches before a fault.
SETTLE_SECONDS = 2
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
        return self.lease + 5

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


# client-go's defaults, which every kind of participant runs by default.
DEFAULT_TIMINGS = Timings(15, 10, 2)
# --soak: compressed, so that many rounds fit in an hour.
SOAK_TIMINGS = Timings(3, 2, 0.5)
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


class Suite:
    def __init__(self, cluster, fleet, toxiproxy, timings=DEFAULT_TIMINGS):
        self.cluster, self.fleet, self.toxiproxy = cluster, fleet, toxiproxy
        self.timings = timings
        self.faults = faults(timings)
        self.rounds = []
        self._leases = itertools.count()
        self.mixed_rounds = 0
        self.proxied_kubeconfig = cluster.kubeconfig_via(toxiproxy.port, fleet.log_dir / 'kubeconfig-proxied')

    def lease(self, scenario):
        slug = re.sub('[^a-z0-9]+', '-', scenario.lower()).strip('-')[:40].strip('-')
        return f'chaos-{slug}-{os.getpid()}-{next(self._leases)}'

    def start(self, kind, lease, **options):
        """A participant; ours in Rust runs at the suite's timings."""
        if kind == OURS_RUST and self.timings != DEFAULT_TIMINGS:
            options['args'] = self.timings.flags()
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
        time.sleep(SETTLE_SECONDS)
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
        self.recover(round_.lease)
        time.sleep(SETTLE_SECONDS)
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

    def restart(self, component):
        def run(name):
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
        self.fleet.start(leader.kind, lease)
        self.finish(Round(name, lease, fault_at, fault_at))

    def slow_follower(self, name):
        """The standbys reach the API server through toxiproxy, whose answers
        come 4 s late (inside the request timeout), while the leader renews
        directly; then the leader is paused past its lease. A standby must
        time each version from when its late answer arrived."""
        lease = self.lease(name)
        proxied = {'kubeconfig': self.proxied_kubeconfig}
        leader, _ = self.elect(lease, standbys=((OURS_RUST, proxied), (OURS_RUST, proxied)))
        latency = 0.8 * self.timings.request_timeout
        self.toxiproxy.add('latency', 'downstream', latency=self.timings.ms(latency), jitter=0)
        time.sleep(SETTLE_SECONDS + latency)
        paused = leader.pause()
        time.sleep(self.timings.fault)
        resumed = leader.resume()
        leader.wait_event('lost', 5, since=resumed.at)
        self.toxiproxy.clear()
        self.finish(Round(name, lease, paused.at, resumed.at))

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
        time.sleep(SETTLE_SECONDS)
        paused = leader.pause()
        time.sleep(self.timings.fault)
        resumed = leader.resume()
        round_ = Round(name, lease, paused.at, resumed.at)
        taken = twin.wait_event('acquired', 0)
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

    def scenarios(self):
        runs = {f'partition: {fault}': self.partition(fault) for fault in self.faults}
        runs.update({
            'API server restarted': self.restart('apiserver'),
            'etcd restarted': self.restart('etcd'),
            'conflict storm': self.conflict_storm,
            'leader killed (SIGKILL)': self.leader_killed,
            'leader paused past its lease (SIGSTOP)': self.leader_paused,
            f'standby clock x{FAST_CLOCK_RATE}, leader cut off': self.fast_clock,
            'mixed fleet: leader killed or stopped': self.mixed_fleet,
            'slow answers to the standbys, leader paused': self.slow_follower,
            'annotation writer on a dead leader\'s lease': self.metadata_writer,
            'two processes with one identity': self.identity_collision,
            'lease re-created at term 0 by another writer': self.recreated_at_zero,
        })
        return runs


@dataclass
class Finding:
    overlaps_ours: list
    overlaps_peers: list
    gaps: list
    unrecovered: int
    wakes: list
    failures: list


def check(fleet, rounds):
    kinds = {p.name: p.kind for p in fleet.all_participants}
    finding = Finding([], [], [], 0, [], [])
    for round_ in rounds:
        events = [e for e in fleet.events if e.lease == round_.lease]
        found = terms(events, until=round_.end_at)
        for overlap in overlaps(found):
            involved = {kinds[overlap.first.holder[0]], kinds[overlap.second.holder[0]]}
            (finding.overlaps_ours if involved & set(OURS) else finding.overlaps_peers).append(overlap)
        gaps = leaderless(found, round_.fault_at, round_.end_at)
        if gaps and gaps[-1][1] == round_.end_at:
            finding.unrecovered += 1
        else:
            finding.gaps += [to - since for since, to in gaps]
        finding.wakes += wakes(events)
        finding.failures += round_.failures
        finding.failures += [f'{e.holder[0]} printed {e.detail!r}' for e in events if e.kind == 'garbage']
    return finding


def duration(text):
    """'90s', '30m', '2h' or plain seconds."""
    units = {'s': 1, 'm': 60, 'h': 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--rounds', type=int, default=5, help='rounds of each scenario (default 5)')
    parser.add_argument('--soak', type=duration, metavar='DURATION',
                        help='instead of --rounds: every scenario in turn, at compressed timings '
                             f'({SOAK_TIMINGS.lease:g} s / {SOAK_TIMINGS.renew_deadline:g} s / '
                             f'{SOAK_TIMINGS.retry:g} s), until DURATION (90s, 30m, 2h) has passed')
    parser.add_argument('--only', help='run the scenarios whose name contains this')
    parser.add_argument('--out', default='tests/results/chaos.md')
    args = parser.parse_args()

    fleet = Fleet.from_environment('chaos')
    toxiproxy = Toxiproxy(fleet.peers_dir / 'toxiproxy-server', fleet.cluster.port, fleet.log_dir / 'toxiproxy.log')
    suite = Suite(fleet.cluster, fleet, toxiproxy, SOAK_TIMINGS if args.soak else DEFAULT_TIMINGS)
    scenarios = {name: run for name, run in suite.scenarios().items() if not args.only or args.only in name}
    if args.soak:
        # The other kinds run their own timings; a mixed lease is no soak of ours.
        scenarios.pop('mixed fleet: leader killed or stopped', None)
        print(f'chaos: soak for {args.soak:g} s, every scenario in turn; participant logs in {fleet.log_dir}',
              flush=True)
        until = time.monotonic() + args.soak
        schedule = itertools.takewhile(lambda _: time.monotonic() < until, itertools.cycle(scenarios))
    else:
        print(f'chaos: {args.rounds} round(s) of each scenario; participant logs in {fleet.log_dir}', flush=True)
        schedule = (name for name in scenarios for _ in range(args.rounds))

    rounds = {name: [] for name in scenarios}
    errors = {name: [] for name in scenarios}
    try:
        for name in schedule:
            number = len(rounds[name]) + len(errors[name]) + 1
            print(f'== {name}, round {number}', flush=True)
            started = time.monotonic()
            try:
                scenarios[name](name)
            except Exception as err:  # a round that could not run fails; the others go on
                errors[name].append(f'round {number} could not run: {err}')
                suite.say(errors[name][-1])
                fleet.stop_all()
                continue
            rounds[name].append(suite.rounds[-1])
            suite.say(f'{time.monotonic() - started:.0f} s; {"; ".join(suite.rounds[-1].notes)}')
    finally:
        fleet.stop_all()
        toxiproxy.close()

    rows, failed = [], False
    for name in scenarios:
        finding = check(fleet, rounds[name])
        finding.failures += errors[name]
        if not rounds[name] and not errors[name]:
            continue  # the soak ended before its turn
        print(f'== {name}: {len(rounds[name])} round(s)')
        for overlap in finding.overlaps_ours + finding.overlaps_peers:
            print(f'  OVERLAP {overlap.first.holder} and {overlap.second.holder} for {report.ms(overlap.duration_ns)}')
        late_wakes = [w for w in finding.wakes
                      if w.reported is None or w.reported - w.resumed > WAKE_REPORT_LIMIT_NS]
        for failure in finding.failures:
            print(f'  FAILED {failure}')
        failed |= bool(finding.overlaps_ours) or finding.unrecovered > 0 or bool(late_wakes)
        failed |= bool(finding.failures)
        wake = ''
        if finding.wakes:
            worst = max((w.reported - w.resumed for w in finding.wakes if w.reported), default=None)
            wake = (f'wake → lost ≤ {report.ms(worst)}, first event after waking: '
                    + ', '.join(sorted({w.first_event for w in finding.wakes})))
        rows.append([
            name, len(rounds[name]), len(finding.overlaps_ours), len(finding.overlaps_peers),
            report.seconds(max(finding.gaps)) if finding.gaps else 'none',
            finding.unrecovered, wake,
        ])

    text = report.table(
        ['scenario', 'rounds', 'overlaps involving ours', 'overlaps among peers only',
         'longest leaderless gap from the fault on', 'rounds left without a leader', 'notes'],
        rows,
    )
    print('\n' + text)
    timings = suite.timings
    how = (f'Soak of {args.soak:g} s at {timings.lease:g} s / {timings.renew_deadline:g} s / {timings.retry:g} s '
           f'(`tests/chaos --soak {args.soak:g}s`)' if args.soak
           else f'Chaos suite, {args.rounds} round(s) per scenario (`tests/chaos --rounds {args.rounds}`)')
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(f'{how}:\n\n{text}\n')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
