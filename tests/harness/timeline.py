"""The checker: from the events of one lease, when each elector believed it
led, any moment at which two believed it at once, any moment at which units
of leader work of two processes ran at once, and how long the lease went
without a leader after a fault healed. Pure functions of the events."""

from dataclasses import dataclass

# A process woken from SIGSTOP that reports `lost` within this long, before
# any other event, did not act as leader after waking (see Term.woken).
# Later, or after another event, its belief counts in full until `lost`.
WAKE_REPORT_LIMIT_NS = 100_000_000


@dataclass(frozen=True)
class Term:
    """An interval over which one elector believed it led. A woken term
    (from SIGCONT to a `lost` reported at once) is only held against terms
    that began after the wake: those that began during the pause began
    while it could not act, and it acted on none of it."""

    holder: tuple
    start: int
    end: int
    woken: bool = False


@dataclass(frozen=True)
class Overlap:
    first: Term
    second: Term
    start: int
    end: int

    @property
    def duration_ns(self):
        return self.end - self.start


@dataclass(frozen=True)
class Wake:
    """A process resumed after SIGSTOP while it led: how long until it said `lost`."""

    holder: tuple
    resumed: int
    reported: int  # None: never reported lost
    first_event: str


def terms(events, until):
    """The intervals each elector believed it led, from one lease's events
    (sorted or not). A process's belief ends with `lost`, `stopped`, or its
    exit; while it is paused (SIGSTOP) it cannot act, see WAKE_REPORT_LIMIT_NS."""
    result = []
    open_terms = {}  # holder -> start
    paused = {}  # process name -> pause mark time, while it leads
    woken = {}  # holder -> resume time, until its next event
    for event in sorted(events, key=lambda e: e.at):
        name, index = event.holder
        if event.kind == 'unit_end':
            continue  # a unit frozen by SIGSTOP ending on waking: see units()
        if index >= 0:
            if event.kind == 'acquired' and event.holder not in open_terms:
                open_terms[event.holder] = event.at
            elif event.kind in ('lost', 'stopped') and event.holder in open_terms:
                start = open_terms.pop(event.holder)
                resumed = woken.get(event.holder)
                at_once = resumed is not None and event.kind == 'lost' and event.at - resumed <= WAKE_REPORT_LIMIT_NS
                result.append(Term(event.holder, start, event.at, woken=at_once))
            woken.pop(event.holder, None)
            continue
        # The harness's marks on a whole process.
        holders = [h for h in open_terms if h[0] == name]
        if event.kind == 'pause':
            paused[name] = event.at
        elif event.kind == 'resume' and name in paused:
            pause_at = paused.pop(name)
            for holder in holders:
                # The stretch before the pause is a term of its own; the one
                # after the wake starts at the resume (or at the pause, when
                # the report came at once).
                result.append(Term(holder, open_terms[holder], pause_at))
                open_terms[holder] = event.at
                woken[holder] = event.at
        elif event.kind in ('exit',):
            for holder in holders:
                result.append(Term(holder, open_terms.pop(holder), event.at))
    for holder, start in open_terms.items():
        result.append(Term(holder, start, until))
    return [t for t in result if t.end > t.start]


def overlaps(all_terms):
    """Every pair of terms of different electors that intersect."""
    ordered = sorted(all_terms, key=lambda t: t.start)
    found = []
    for i, first in enumerate(ordered):
        for second in ordered[i + 1:]:
            if second.start >= first.end:
                continue
            if second.holder == first.holder:
                continue
            if (first.woken and second.start < first.start) or (second.woken and first.start < second.start):
                continue
            found.append(Overlap(first, second, second.start, min(first.end, second.end)))
    return found


def leaderless(all_terms, start, end):
    """The stretches of [start, end) in which no elector believed it led,
    as (from, to) pairs."""
    gaps, cursor = [], start
    for term in sorted(all_terms, key=lambda t: t.start):
        if term.end <= cursor:
            continue
        if term.start >= end:
            break
        if term.start > cursor:
            gaps.append((cursor, term.start))
        cursor = max(cursor, term.end)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


def wakes(events):
    """For each process resumed from SIGSTOP while leading: its first event
    after the resume and when it came."""
    found = []
    leading = set()
    paused = set()
    resumed = {}
    for event in sorted(events, key=lambda e: e.at):
        name, index = event.holder
        if event.kind == 'unit_end':
            continue  # ending a unit frozen mid-way is no act; beginning one is
        if index >= 0:
            if event.holder in resumed:
                found.append(Wake(event.holder, resumed.pop(event.holder), event.at if event.kind == 'lost' else None, event.kind))
            if event.kind == 'acquired':
                leading.add(event.holder)
            elif event.kind in ('lost', 'stopped'):
                leading.discard(event.holder)
        elif event.kind == 'pause':
            paused.add(name)
        elif event.kind == 'resume' and name in paused:
            paused.discard(name)
            for holder in [h for h in leading if h[0] == name]:
                resumed[holder] = event.at
    for holder, at in resumed.items():
        found.append(Wake(holder, at, None, 'none'))
    return found


@dataclass(frozen=True)
class Unit:
    """One unit of leader work, from unit_begin to unit_end. `paused`: its
    process was stopped (SIGSTOP) while it ran; nothing an elector does can
    stop a unit its process is frozen in, only fencing with the term can."""

    holder: tuple
    start: int
    end: int
    paused: bool = False


def units(events, until):
    """The units of leader work in one lease's events (sorted or not). A unit
    still open when its process exits runs until the exit; one still open at
    `until`, until then."""
    done = []
    running = {}  # holder -> start
    stopped = {}  # process name -> pause mark time
    pauses = {}  # process name -> [(pause, resume)]
    for event in sorted(events, key=lambda e: e.at):
        name, index = event.holder
        if index >= 0:
            if event.kind == 'unit_begin':
                running[event.holder] = event.at
            elif event.kind == 'unit_end' and event.holder in running:
                done.append((event.holder, running.pop(event.holder), event.at))
            continue
        if event.kind == 'pause':
            stopped[name] = event.at
        elif event.kind == 'resume' and name in stopped:
            pauses.setdefault(name, []).append((stopped.pop(name), event.at))
        elif event.kind == 'exit':
            for holder in [h for h in running if h[0] == name]:
                done.append((holder, running.pop(holder), event.at))
    done += [(holder, start, until) for holder, start in running.items()]
    for name, at in stopped.items():  # never resumed
        pauses.setdefault(name, []).append((at, until))
    return [Unit(holder, start, end, any(p < end and r > start for p, r in pauses.get(holder[0], ())))
            for holder, start, end in done]


def unit_overlaps(all_units):
    """Every pair of units of different processes that ran at once."""
    ordered = sorted(all_units, key=lambda u: u.start)
    found = []
    for i, first in enumerate(ordered):
        for second in ordered[i + 1:]:
            if second.start >= first.end:
                break  # the rest begin later still
            if second.holder[0] != first.holder[0]:
                found.append(Overlap(first, second, second.start, min(first.end, second.end)))
    return found
