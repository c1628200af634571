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
from toxiproxy import FAULTS, Toxiproxy

# A fault outlasts the lease (15 s), so standbys judge it expired.
FAULT_SECONDS = 20
# How long after a fault heals the lease may go without a leader before the
# round counts as failed: a lease duration and a few retry periods.
RECOVERY_SECONDS = 30
RENEW_DEADLINE_SECONDS = 10
# Standbys are given this long to open their watches before a fault.
SETTLE_SECONDS = 2
# A standby whose clock runs this much fast: below lease / renew deadline (1.5),
# the bound within which the protocol is safe for any elector.
FAST_CLOCK_RATE = 1.25
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
    def __init__(self, cluster, fleet, toxiproxy):
        self.cluster, self.fleet, self.toxiproxy = cluster, fleet, toxiproxy
        self.rounds = []
        self._leases = itertools.count()
        self.mixed_rounds = 0
        self.proxied_kubeconfig = cluster.kubeconfig_via(toxiproxy.port, fleet.log_dir / 'kubeconfig-proxied')

    def lease(self, scenario):
        slug = re.sub('[^a-z0-9]+', '-', scenario.lower()).strip('-')[:40].strip('-')
        return f'chaos-{slug}-{os.getpid()}-{next(self._leases)}'

    def say(self, text):
        print(f'  {text}', flush=True)

    def elect(self, lease, leader_kind=OURS_RUST, standbys=((OURS_RUST, {}), (OURS_RUST, {})), leader_options=None):
        """A leader that has acquired, and standbys that have started and
        settled. Fails the round if no leader comes."""
        leader = self.fleet.start(leader_kind, lease, **(leader_options or {}))
        if not leader.wait_event('acquired', 30):
            raise RuntimeError(f'{leader.name} did not acquire {lease} (log: {leader.log})')
        others = [self.fleet.start(kind, lease, **options) for kind, options in standbys]
        for other in others:
            if not other.wait_event('started', 30):
                raise RuntimeError(f'{other.name} did not start (log: {other.log})')
        time.sleep(SETTLE_SECONDS)
        return leader, others

    def recover(self, lease):
        """Waits until someone leads the lease again."""
        deadline = time.monotonic() + RECOVERY_SECONDS
        while not self.fleet.leaders(lease) and time.monotonic() < deadline:
            time.sleep(0.05)

    def finish(self, round_):
        # A leader still in office when the fault healed may step down up
        # to a renew deadline later (its last renewal came before the fault);
        # only a leader after that shows the lease recovered.
        time.sleep(max(0.0, (round_.healed_at - now()) / 1e9 + RENEW_DEADLINE_SECONDS))
        self.recover(round_.lease)
        time.sleep(SETTLE_SECONDS)
        round_.end_at = now()
        self.fleet.stop_all()
        self.rounds.append(round_)

    # The scenarios. Each runs one round on a lease of its own.

    def cut_off(self, name, fault, standbys=((OURS_RUST, {}), (OURS_RUST, {}))):
        """The leader reaches the API server through toxiproxy, which applies
        the fault for FAULT_SECONDS."""
        lease = self.lease(name)
        leader, _ = self.elect(lease, standbys=standbys, leader_options={'kubeconfig': self.proxied_kubeconfig})
        fault_at = now()
        for kind, stream, attributes in FAULTS[fault]:
            self.toxiproxy.add(kind, stream, **attributes)
        time.sleep(FAULT_SECONDS)
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
        time.sleep(FAULT_SECONDS)
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

    def scenarios(self):
        runs = {f'partition: {fault}': self.partition(fault) for fault in FAULTS}
        runs.update({
            'API server restarted': self.restart('apiserver'),
            'etcd restarted': self.restart('etcd'),
            'conflict storm': self.conflict_storm,
            'leader killed (SIGKILL)': self.leader_killed,
            'leader paused past its lease (SIGSTOP)': self.leader_paused,
            f'standby clock x{FAST_CLOCK_RATE}, leader cut off': self.fast_clock,
            'mixed fleet: leader killed or stopped': self.mixed_fleet,
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


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--rounds', type=int, default=5, help='rounds of each scenario (default 5)')
    parser.add_argument('--only', help='run the scenarios whose name contains this')
    parser.add_argument('--out', default='tests/results/chaos.md')
    args = parser.parse_args()

    fleet = Fleet.from_environment('chaos')
    toxiproxy = Toxiproxy(fleet.peers_dir / 'toxiproxy-server', fleet.cluster.port, fleet.log_dir / 'toxiproxy.log')
    suite = Suite(fleet.cluster, fleet, toxiproxy)
    print(f'chaos: {args.rounds} round(s) of each scenario; participant logs in {fleet.log_dir}', flush=True)

    rows, failed = [], False
    try:
        for name, run in suite.scenarios().items():
            if args.only and args.only not in name:
                continue
            print(f'== {name}', flush=True)
            first, errors = len(suite.rounds), []
            for number in range(args.rounds):
                started = time.monotonic()
                try:
                    run(name)
                except Exception as err:  # a round that could not run fails; the others go on
                    errors.append(f'round {number + 1} could not run: {err}')
                    suite.say(errors[-1])
                    fleet.stop_all()
                    continue
                round_ = suite.rounds[-1]
                suite.say(f'round {number + 1}: {time.monotonic() - started:.0f} s; {"; ".join(round_.notes)}')
            finding = check(fleet, suite.rounds[first:])
            finding.failures += errors
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
                name, len(suite.rounds) - first, len(finding.overlaps_ours), len(finding.overlaps_peers),
                report.seconds(max(finding.gaps)) if finding.gaps else 'none',
                finding.unrecovered, wake,
            ])
    finally:
        fleet.stop_all()
        toxiproxy.close()

    text = report.table(
        ['scenario', 'rounds', 'overlaps involving ours', 'overlaps among peers only',
         'longest leaderless gap from the fault on', 'rounds left without a leader', 'notes'],
        rows,
    )
    print('\n' + text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        f'Chaos suite, {args.rounds} round(s) per scenario (`tests/chaos --rounds {args.rounds}`):\n\n{text}\n')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
