"""Ours through the `elector` command, as a participant of the chaos suite
and the benchmarks: `elector run` campaigns, and its program is the leader
work.

    cli_participant.py ELECTOR_BIN KUBECONFIG LEASE IDENTITY [elector flags]

prints `started`, then becomes `elector run ... -- cli_participant.py work`
(same process, same stdout). The program prints `acquired` as it starts,
units of work (`unit_begin`, `unit_end`: up to 10 ms of CPU, then up to
100 ms asleep), and on SIGTERM (elector's, whatever the reason for the
loss) ends its unit, prints `lost` and exits. Lines
are `<CLOCK_MONOTONIC ns> 0 <event> [detail]`, as every participant's."""

import os
import random
import signal
import sys
import time


def say(event, detail=''):
    print(f'{time.monotonic_ns()} 0 {event} {detail}', flush=True)


def work():
    stopping = False

    def on_term(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    say('acquired', f'term={os.environ["ELECTOR_TERM"]}')
    while not stopping:
        say('unit_begin', f'term={os.environ["ELECTOR_TERM"]}')
        busy_until = time.monotonic() + 0.010 * random.random()
        while time.monotonic() < busy_until:
            pass
        time.sleep(0.100 * random.random())
        say('unit_end')
    say('lost', 'reason=signal')


def launch(elector, kubeconfig, lease, identity, *flags):
    say('started')
    os.execv(elector, [elector, 'run', '--kubeconfig', kubeconfig, '--context', 'elector', '--lease', lease,
                       '--identity', identity, *flags, '--', sys.executable, os.path.abspath(__file__), 'work'])


if __name__ == '__main__':
    if sys.argv[1:] == ['work']:
        work()
    else:
        launch(*sys.argv[1:])
