"""The benchmarks: ours (from Rust and from Node.js, at client-go's timings)
against client-go's tools/leaderelection (15 s / 10 s / 2 s,
ReleaseOnCancel) and the JS package @codedependant/kubernetes-leader-election
1.0.1 (its defaults: 20 s lease, 10 s renewals), measured in one run on the
local control plane. Prints a Markdown report and writes it to --out.

Run it with tests/bench, which builds and starts what it needs."""

import argparse
import datetime
import os
import platform
import socket
import subprocess
import threading
import time
from pathlib import Path

import report
from timeline import units
from fleet import JS_PACKAGE, KINDS, LEASE_SECONDS, OURS_CLI, OURS_NODE, OURS_RUST, Fleet, now

# Standbys are given this long to open their watches before the leader goes.
SETTLE_SECONDS = 1
# The JS package's followers try at start, 10 s and 20 s, then give up: a
# handover or failover it has not made by then never comes.
TAKEOVER_LIMIT_SECONDS = 30
# Load is read once every standby has settled: the JS package's followers
# stop polling after 20 s.
LOAD_SETTLE_SECONDS = 22
LOAD_WINDOW_SECONDS = 20
LOAD_STANDBYS = (10, 100, 1000, 10000)
# Ten thousand standbys are ours (Rust) alone: client-go's would poll the API
# server 5000 times a second, the JS package's 1000.
LOAD_KINDS_AT_10000 = (OURS_RUST,)
FOOTPRINT_WARMUP_SECONDS = 5
FOOTPRINT_WINDOW_SECONDS = 30
LEASES_PER_PROCESS = (1, 100, 1000)
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(') ', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mib(pid):
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return None


def tcp_connections(pid, port):
    """Established TCP connections of process `pid` to `port`: its socket
    inodes matched against the kernel's TCP tables."""
    inodes = set()
    for fd in Path(f'/proc/{pid}/fd').iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[len('socket:['):-1])
    count = 0
    for table in ('tcp', 'tcp6'):
        for line in Path(f'/proc/{pid}/net/{table}').read_text().splitlines()[1:]:
            fields = line.split()
            established = fields[3] == '01'
            if established and int(fields[2].rsplit(':', 1)[1], 16) == port and fields[9] in inodes:
                count += 1
    return count


def ratio(value, ours):
    """How many times ours' figure the peer's is (lower is better for all)."""
    if value is None or ours is None or ours <= 0:
        return '—'
    return f'{value / ours:.1f}×'


class Bench:
    def __init__(self, cluster, fleet, rounds, failover_rounds):
        self.cluster, self.fleet, self.rounds, self.failover_rounds = cluster, fleet, rounds, failover_rounds
        self.serial = 0

    def lease(self, what):
        self.serial += 1
        return f'bench-{what}-{os.getpid()}-{self.serial}'

    def leader(self, kind, lease, work=None):
        leader = self.fleet.start(kind, lease, work=work)
        if not leader.wait_event('acquired', 60):
            raise RuntimeError(f'{kind}: no leader for {lease} (log: {leader.log})')
        return leader

    def takeovers(self, kind, crash, work=None):
        """Rounds of: a standby starts, the leader is stopped (or killed), the
        standby acquires. Returns the times from the signal to the acquired
        event, and how many rounds had no takeover within the limit. With
        `work`, electors do leader work, the leader is stopped in the middle
        of a unit, and the times run from the end of its last unit to the
        beginning of the new leader's first (negative: they overlapped)."""
        lease = self.lease('failover' if crash else 'busy-handover' if work else 'handover')
        leader = self.leader(kind, lease, work)
        times, missed = [], 0
        for _ in range(self.failover_rounds if crash else self.rounds):
            standby = self.fleet.start(kind, lease, work=work)
            standby.wait_event('started', 30)
            time.sleep(SETTLE_SECONDS)
            busy = leader.wait_event('unit_begin', 10, since=now()) if work else None
            signalled = leader.kill() if crash else leader.terminate(wait=False)
            acquired = standby.wait_event('acquired', TAKEOVER_LIMIT_SECONDS + (LEASE_SECONDS[kind] if crash else 0))
            leader.wait(30)
            first = standby.wait_event('unit_begin', 10, since=acquired.at) if work and acquired else None
            # Its last unit ended, or ran until the process exited.
            ends = [u.end for u in units([e for e in self.fleet.events if e.holder[0] == leader.name], now())]
            if acquired and not work:
                times.append(acquired.at - signalled.at)
                leader = standby
            elif busy and first and ends:
                times.append(first.at - max(ends))
                leader = standby
            else:
                # Nobody took over (the JS package's followers gave up): start over.
                missed += 1
                standby.terminate()
                leader = self.leader(kind, lease, work)
        leader.terminate()
        return times, missed

    def handover(self):
        rows, ours = [], {}
        for kind in KINDS:
            print(f'  handover: {kind}', flush=True)
            times, missed = self.takeovers(kind, crash=False)
            p50, p99 = report.percentile(times, 50), report.percentile(times, 99)
            ours.setdefault('p50', p50)
            rows.append([kind, f'{len(times)}/{len(times) + missed}', report.ms(p50), report.ms(p99),
                         ratio(p50, ours['p50'])])
        return report.table(['elector', 'rounds with a takeover', 'p50', 'p99', 'p50 vs ours (Rust)'], rows)

    def busy_handover(self):
        rows, ours = [], {}
        for kind in KINDS:
            print(f'  busy handover: {kind}', flush=True)
            times, missed = self.takeovers(kind, crash=False, work='scoped')
            p50, p99 = report.percentile(times, 50), report.percentile(times, 99)
            ours.setdefault('p50', p50)
            overlapped = sum(t < 0 for t in times)
            rows.append([kind, f'{len(times)}/{len(times) + missed}', report.ms(p50), report.ms(p99),
                         overlapped, ratio(p50, ours['p50'])])
        return report.table(['elector', 'rounds with a takeover', 'p50', 'p99',
                             'rounds whose units overlapped', 'p50 vs ours (Rust)'], rows)

    def failover(self):
        # Each round waits out a lease: the kinds run side by side, each on its own lease.
        results = {}

        def run(kind):
            try:
                results[kind] = self.takeovers(kind, crash=True)
            except Exception as err:  # the other kinds' rounds still count
                print(f'  failover: {kind}: {err}', flush=True)
                results[kind] = ([], self.failover_rounds)

        threads = [threading.Thread(target=run, args=(kind,)) for kind in KINDS]
        print('  failover: all kinds side by side', flush=True)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rows, ours = [], report.percentile(results[OURS_RUST][0], 50)
        for kind in KINDS:
            times, missed = results[kind]
            lease = LEASE_SECONDS[kind] * 1_000_000_000
            p50, p99 = report.percentile(times, 50), report.percentile(times, 99)
            rows.append([kind, f'{LEASE_SECONDS[kind]} s', f'{len(times)}/{len(times) + missed}',
                         report.seconds(p50), report.ms(None if p50 is None else p50 - lease),
                         report.ms(None if p99 is None else p99 - lease), ratio(p50, ours)])
        return report.table(['elector', 'lease', 'rounds with a takeover', 'p50 kill to acquired',
                             'p50 beyond the lease', 'p99 beyond the lease', 'p50 vs ours (Rust)'], rows)

    def load(self):
        print('  load: the API server alone', flush=True)
        before = self.cluster.lease_load()
        time.sleep(LOAD_WINDOW_SECONDS)
        baseline_load = self.cluster.lease_load()
        baseline = baseline_load.rates_since(before, LOAD_WINDOW_SECONDS)
        sections, standby_rss = [], {}
        for n in LOAD_STANDBYS:
            rows, ours_total = [], None
            for kind in (LOAD_KINDS_AT_10000 if n >= 10000 else KINDS):
                print(f'  load: {kind} with {n} standbys', flush=True)
                lease = self.lease('load')
                self.leader(kind, lease)
                standbys = self.fleet.start(kind, lease, count=n)
                if not standbys.wait_all('started', 600):
                    rows.append([kind, 'did not start'] + [''] * 9)
                    self.fleet.stop_all()
                    continue
                time.sleep(LOAD_SETTLE_SECONDS)
                apiserver = self.cluster.apiserver_pid()
                # CPU is read before each scrape, so /metrics' own cost stays out.
                cpu, began = cpu_seconds(apiserver), time.monotonic()
                first = self.cluster.lease_load()
                time.sleep(LOAD_WINDOW_SECONDS)
                cpu, elapsed = cpu_seconds(apiserver) - cpu, time.monotonic() - began
                last = self.cluster.lease_load()
                rates = last.rates_since(first, elapsed)
                rates = {verb: max(0.0, rate - baseline.get(verb, 0)) for verb, rate in rates.items()}
                total = sum(rates.values())
                ours_total = total if ours_total is None else ours_total
                rss = rss_mib(standbys.pid)
                standby_rss.setdefault(kind, {})[n] = rss
                rows.append([
                    kind, f'{rates.get("GET", 0):.1f}', f'{rates.get("PUT", 0):.1f}',
                    f'{rates.get("POST", 0):.1f}', f'{total:.1f}',
                    ratio(total, ours_total) if kind != OURS_RUST else '1.0×',
                    last.watches - baseline_load.watches,
                    f'{100 * cpu / elapsed:.1f} %', f'{rss_mib(apiserver):.0f} MiB', f'{rss:.0f} MiB',
                    tcp_connections(standbys.pid, self.cluster.port),
                ])
                self.fleet.stop_all()
            sections.append(f'{n} standbys (in one process) and one leader:\n\n' + report.table(
                ['elector', 'GET/s', 'PUT/s', 'POST/s', 'requests/s', 'vs ours (Rust)', 'open watches',
                 'API server CPU', 'API server RSS', 'standbys\' process RSS', 'its TCP connections'], rows)
                + '\n\nrequests/s counts every verb, WATCH and LIST included. TCP connections: the standbys\' '
                'process\'s established connections to the API server, from /proc/net/tcp.')
        per_standby = []
        for kind, rss in standby_rss.items():
            sizes = sorted(rss)
            for smaller, larger in zip(sizes, sizes[1:]):
                if larger >= 1000:
                    per_standby.append([kind, f'{smaller} → {larger}',
                                        f'{1024 * (rss[larger] - rss[smaller]) / (larger - smaller):.1f} KiB'])
        sections.append('Memory per extra standby (its elector, watch and events) in the standbys\' process:\n\n'
                        + report.table(['elector', 'standbys', 'RSS per extra standby'], per_standby))
        return '\n\n'.join(sections)

    def footprint(self):
        print('  footprint: a leader and a standby of each kind, side by side', flush=True)
        pairs = {}
        for kind in KINDS:
            lease = self.lease('footprint')
            leader = self.leader(kind, lease)
            standby = self.fleet.start(kind, lease)
            standby.wait_event('started', 30)
            pairs[kind] = (leader, standby)
        time.sleep(FOOTPRINT_WARMUP_SECONDS)
        start = {kind: [cpu_seconds(p.pid) for p in pair] for kind, pair in pairs.items()}
        time.sleep(FOOTPRINT_WINDOW_SECONDS)
        rows, ours = [], None
        for kind, pair in pairs.items():
            cpu = [100 * (cpu_seconds(p.pid) - s) / FOOTPRINT_WINDOW_SECONDS for p, s in zip(pair, start[kind])]
            rss = [rss_mib(p.pid) for p in pair]
            ours = ours or rss
            rows.append([kind, f'{rss[0]:.1f} MiB', f'{cpu[0]:.2f} %', f'{rss[1]:.1f} MiB', f'{cpu[1]:.2f} %',
                         ratio(rss[1], ours[1])])
        self.fleet.stop_all()
        table = report.table(['elector', 'leader RSS', 'leader CPU', 'standby RSS', 'standby CPU',
                              'standby RSS vs ours (Rust)'], rows)

        per_lease_rows = []
        for kind in (OURS_RUST, OURS_NODE):
            rss = {}
            for k in LEASES_PER_PROCESS:
                print(f'  footprint: {kind} holding {k} leases', flush=True)
                holder = self.fleet.start(kind, self.lease('leases'), count=k, distinct_leases=True)
                if not holder.wait_all('acquired', 300):
                    raise RuntimeError(f'{kind} did not acquire {k} leases (log: {holder.log})')
                time.sleep(FOOTPRINT_WARMUP_SECONDS)
                rss[k] = rss_mib(holder.pid)
                self.fleet.stop_all()
            for k in LEASES_PER_PROCESS:
                extra = '—' if k == 1 else f'{1024 * (rss[k] - rss[1]) / (k - 1):.0f} KiB'
                per_lease_rows.append([kind, k, f'{rss[k]:.1f} MiB', extra])
        return table + '\n\nOne process leading many leases (one elector each):\n\n' + report.table(
            ['elector', 'leases', 'RSS', 'per extra lease'], per_lease_rows)

    def cold_acquire(self):
        rows, ours = [], None
        for kind in KINDS:
            print(f'  cold acquire: {kind}', flush=True)
            from_spawn, from_start = [], []
            for _ in range(self.rounds):
                process = self.fleet.start(kind, self.lease('cold'))
                started = process.wait_event('started', 30)
                acquired = process.wait_event('acquired', 30)
                if started and acquired:
                    from_spawn.append(acquired.at - process.spawned_at)
                    from_start.append(acquired.at - started.at)
                process.terminate()
            p50 = report.percentile(from_start, 50)
            ours = p50 if ours is None else ours
            rows.append([kind, len(from_start), report.ms(report.percentile(from_spawn, 50)), report.ms(p50),
                         report.ms(report.percentile(from_start, 99)), ratio(p50, ours)])
        return report.table(['elector', 'rounds', 'p50 from process start', 'p50 from start()',
                             'p99 from start()', 'p50 vs ours (Rust)'], rows)


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def elector_command(bench):
    """`elector run`: a graceful handover, from the old program's exit to
    the new program's start, and the RSS of idle `elector run` and `elector
    sidecar` processes beside ours (Rust)'s participant."""
    fleet = bench.fleet
    lease = bench.lease('cli-handover')
    leader = bench.leader(OURS_CLI, lease)
    gaps, missed = [], 0
    for _ in range(bench.rounds):
        standby = fleet.start(OURS_CLI, lease)
        standby.wait_event('started', 30)
        time.sleep(SETTLE_SECONDS)
        leader.terminate(wait=False)
        started = standby.wait_event('acquired', TAKEOVER_LIMIT_SECONDS)
        leader.wait(30)
        # The program prints `lost` as it exits, `acquired` as it starts.
        exited = fleet.wait_for(lambda e: e.holder == (leader.name, 0) and e.kind == 'lost', 0)
        if started and exited:
            gaps.append(started.at - exited.at)
            leader = standby
        else:
            missed += 1
            standby.terminate()
            leader = bench.leader(OURS_CLI, lease)
    leader.terminate()
    handover = report.table(
        ['rounds with a takeover', 'p50', 'p99'],
        [[f'{len(gaps)}/{len(gaps) + missed}', report.ms(report.percentile(gaps, 50)),
          report.ms(report.percentile(gaps, 99))]])

    print('  elector run and elector sidecar: idle footprint', flush=True)
    rows = []
    for kind in (OURS_RUST, OURS_CLI):
        lease = bench.lease('cli-footprint')
        pair = (bench.leader(kind, lease), fleet.start(kind, lease))
        pair[1].wait_event('started', 30)
        time.sleep(FOOTPRINT_WARMUP_SECONDS)
        name = 'ours (Rust participant)' if kind == OURS_RUST else 'elector run (without its program)'
        rows.append([name] + [f'{rss_mib(p.pid):.1f} MiB' for p in pair])
        fleet.stop_all()
    lease = bench.lease('cli-sidecar')
    sidecars = []
    try:
        for identity in ('sidecar-a', 'sidecar-b'):
            with open(fleet.log_dir / f'{identity}.log', 'w') as log:
                sidecars.append(subprocess.Popen(
                    [os.environ['ELECTOR_CLI'], 'sidecar', '--kubeconfig', str(fleet.cluster.kubeconfig),
                     '--context', 'elector', '--lease', lease, '--identity', identity,
                     '--http', f'127.0.0.1:{free_port()}'],
                    stdout=subprocess.DEVNULL, stderr=log))
            time.sleep(SETTLE_SECONDS)
        time.sleep(FOOTPRINT_WARMUP_SECONDS)
        rss = [rss_mib(p.pid) for p in sidecars]
        if None in rss:
            raise RuntimeError(f'a sidecar exited (logs in {fleet.log_dir})')
        rows.append(['elector sidecar'] + [f'{r:.1f} MiB' for r in rss])
    finally:
        for sidecar in sidecars:
            sidecar.terminate()
            sidecar.wait(30)
    footprint = report.table(['process', 'leader RSS', 'standby RSS'], rows)
    return (f'Graceful handover with `elector run` (SIGTERM to the leader\'s elector), from the old program\'s '
            f'exit to the new program\'s start; the program is a Python script, whose start-up is included:\n\n'
            f'{handover}\n\nIdle footprint, a leader and a standby of each:\n\n{footprint}')


def install():
    """tests/dist/bench's tables (it builds the packages and starts the registries)."""
    print('  install: npm install and gem install from local registries', flush=True)
    script = Path(__file__).resolve().parent.parent / 'dist' / 'bench'
    return subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--rounds', type=int, default=20, help='rounds of handover and cold acquire')
    parser.add_argument('--failover-rounds', type=int, default=10,
                        help='rounds of crash failover (each waits out a lease)')
    parser.add_argument('--only', action='append',
                        help='run the sections whose name contains this (repeatable: any of them)')
    parser.add_argument('--out', default='tests/results/bench.md')
    args = parser.parse_args()

    fleet = Fleet.from_environment('bench')
    bench = Bench(fleet.cluster, fleet, args.rounds, args.failover_rounds)
    sections = [
        ('Graceful handover: the leader is stopped (SIGTERM); until a standby\'s acquired event', bench.handover),
        ('Graceful handover with a busy leader: stopped (SIGTERM) in the middle of a unit of work (up to '
         '10 ms of CPU and 100 ms awaited); from the end of its last unit to the start of the new leader\'s '
         'first. Ours through lead, client-go in OnStartedLeading(ctx) with ReleaseOnCancel, the JS package '
         'in its idiom (check current_leader, then run a unit)', bench.busy_handover),
        ('Crash failover: the leader is killed (SIGKILL); until a standby\'s acquired event, '
         'beyond the lease duration', bench.failover),
        ('Load on the API server at steady state: lease requests per second by verb (the API '
         'server\'s own traffic subtracted) and open lease watches, from its /metrics', bench.load),
        ('Footprint: resident memory and CPU of one idle elector per process', bench.footprint),
        ('Cold acquire: a lease that does not exist yet, until acquired', bench.cold_acquire),
        ('The elector command: handover with elector run, and idle footprint', lambda: elector_command(bench)),
        ('Install: the prebuilt packages against the JS package and the source gem, from local registries',
         install),
    ]
    print(f'bench: {args.rounds} rounds; participant logs in {fleet.log_dir}', flush=True)
    parts = []
    try:
        for title, run in sections:
            if args.only and not any(only.lower() in title.lower() for only in args.only):
                continue
            started = time.monotonic()
            try:
                body = run()
            except Exception as err:  # one section failing must not lose the others
                body = f'Not measured: {type(err).__name__}: {err}'
                fleet.stop_all()
            print(f'  ({time.monotonic() - started:.0f} s)', flush=True)
            parts.append(f'### {title}\n\n{body}\n')
    finally:
        fleet.stop_all()
    head = (
        f'Measured {datetime.date.today()} with `tests/bench --rounds {args.rounds} --failover-rounds {args.failover_rounds}'
        f'{"".join(f" --only {only!r}" for only in args.only or [])}` on one machine '
        f'({os.cpu_count()} cores, Linux {platform.release()}), against the project\'s local control '
        f'plane (kube-apiserver v1.35.4, etcd). Ours runs at client-go\'s timings (15 s lease, 10 s '
        f'renew deadline, 2 s retry period); {JS_PACKAGE} 1.0.1 at its defaults (20 s lease, 10 s '
        f'renewals). Ratios: the peer\'s figure over ours (Rust); lower is better everywhere.\n'
    )
    text = head + '\n' + '\n'.join(parts)
    print('\n' + text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == '__main__':
    main()
