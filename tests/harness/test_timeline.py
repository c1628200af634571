"""Unit tests of the checker, on hand-made timelines (no cluster needed):
python3 -m unittest discover tests/harness"""

import unittest

from fleet import Event
from timeline import WAKE_REPORT_LIMIT_NS, leaderless, overlaps, terms, wakes

MS = 1_000_000


def ev(at_ms, name, kind, index=0):
    return Event(at_ms * MS, (name, index), kind, '', 'lease')


def mark(at_ms, name, kind):
    return ev(at_ms, name, kind, index=-1)


class TermsTest(unittest.TestCase):
    def test_a_clean_handover_has_no_overlap(self):
        events = [ev(0, 'a', 'acquired'), ev(100, 'a', 'lost'), ev(150, 'b', 'acquired')]
        found = terms(events, until=1000 * MS)
        self.assertEqual([(t.holder[0], t.start, t.end) for t in found],
                         [('a', 0, 100 * MS), ('b', 150 * MS, 1000 * MS)])
        self.assertEqual(overlaps(found), [])
        self.assertEqual(leaderless(found, 50 * MS, 1000 * MS), [(100 * MS, 150 * MS)])

    def test_acquiring_before_the_other_lost_is_an_overlap(self):
        events = [ev(0, 'a', 'acquired'), ev(90, 'b', 'acquired'), ev(100, 'a', 'lost')]
        [overlap] = overlaps(terms(events, until=1000 * MS))
        self.assertEqual((overlap.start, overlap.end), (90 * MS, 100 * MS))

    def test_exit_ends_belief_and_an_open_term_runs_to_the_end(self):
        events = [ev(0, 'a', 'acquired'), mark(50, 'a', 'exit'), ev(60, 'b', 'acquired')]
        found = terms(events, until=500 * MS)
        self.assertEqual([(t.start, t.end) for t in found], [(0, 50 * MS), (60 * MS, 500 * MS)])
        self.assertEqual(leaderless(found[:1], 40 * MS, 500 * MS), [(50 * MS, 500 * MS)])

    def test_lost_at_once_on_waking_is_no_overlap(self):
        events = [ev(0, 'a', 'acquired'), mark(10, 'a', 'pause'), ev(5000, 'b', 'acquired'),
                  mark(6000, 'a', 'resume'), ev(6001, 'a', 'lost')]
        self.assertEqual(overlaps(terms(events, until=7000 * MS)), [])
        # A resume of a process that was not paused (before SIGTERM) is no wake.
        [wake] = wakes(events + [mark(6500, 'b', 'resume')])
        self.assertEqual((wake.reported - wake.resumed, wake.first_event), (1 * MS, 'lost'))

    def test_acquiring_after_the_wake_overlaps_even_a_prompt_report(self):
        events = [ev(0, 'a', 'acquired'), mark(10, 'a', 'pause'), mark(6000, 'a', 'resume'),
                  ev(6050, 'b', 'acquired'), ev(6080, 'a', 'lost')]
        [overlap] = overlaps(terms(events, until=7000 * MS))
        self.assertEqual((overlap.start, overlap.end), (6050 * MS, 6080 * MS))

    def test_lost_late_after_waking_overlaps_from_the_wake(self):
        late = 6000 + WAKE_REPORT_LIMIT_NS // MS + 1
        events = [ev(0, 'a', 'acquired'), mark(10, 'a', 'pause'), ev(5000, 'b', 'acquired'),
                  mark(6000, 'a', 'resume'), ev(late, 'a', 'lost')]
        [overlap] = overlaps(terms(events, until=9000 * MS))
        self.assertEqual((overlap.start, overlap.end), (6000 * MS, late * MS))


if __name__ == '__main__':
    unittest.main()
