"""Runs a command until it prints a line matching PATTERN, then sends it
SIGTERM and expects it to exit within a grace period, with status 0 or by
the SIGTERM itself (a Node process re-raises it once it has stopped), as a
Deployment's rollout would. Prints the command's output; exits 1 if the line
never came, the exit status was not 0, or it did not exit in time.

    python3 run_until.py [--cwd DIR] PATTERN TIMEOUT_SECONDS CMD [ARGS...]
"""
import argparse
import re
import signal
import subprocess
import sys
import threading
import time

GRACE_SECONDS = 15


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--cwd')
    parser.add_argument('pattern')
    parser.add_argument('timeout', type=float)
    parser.add_argument('command', nargs=argparse.REMAINDER)
    args = parser.parse_args()

    child = subprocess.Popen(args.command, cwd=args.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    matched = threading.Event()

    def read():
        for line in child.stdout:
            sys.stdout.write(line)
            if re.search(args.pattern, line):
                matched.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + args.timeout
    while not matched.is_set() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if child.poll() is not None:
        reader.join(1)  # it may have printed the line just before exiting
    if not matched.is_set():
        child.kill()
        child.wait()
        print(f'run_until: no line matching {args.pattern!r} within {args.timeout:.0f} s', file=sys.stderr)
        return 1
    child.send_signal(signal.SIGTERM)
    try:
        status = child.wait(GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        print(f'run_until: still running {GRACE_SECONDS} s after SIGTERM', file=sys.stderr)
        return 1
    reader.join(1)
    if status not in (0, -signal.SIGTERM):
        print(f'run_until: exit status {status} after SIGTERM', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
