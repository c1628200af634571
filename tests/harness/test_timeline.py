"""Unit tests of the checker, on hand-made timelines (no cluster needed):
python3 -m unittest discover tests/harness"""

import unittest

from fleet import Event
from timeline import WAKE_REPORT_LIMIT_NS, leaderless, overlaps, terms, unit_overlaps, units, wakes

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



class UnitsTest(unittest.TestCase):
    def test_a_frozen_unit_ending_on_waking_does_not_delay_the_wake_report(self):
        events = [ev(0, 'a', 'acquired'), ev(5, 'a', 'unit_begin'), mark(10, 'a', 'pause'),
                  ev(500, 'b', 'acquired'), mark(1000, 'a', 'resume'), ev(1001, 'a', 'unit_end'),
                  ev(1002, 'a', 'lost')]
        self.assertEqual(overlaps(terms(events, until=2000 * MS)), [])
        [wake] = wakes(events)
        self.assertEqual((wake.first_event, wake.reported), ('lost', 1002 * MS))

    def test_a_unit_begun_on_waking_is_acting_as_leader(self):
        events = [ev(0, 'a', 'acquired'), mark(10, 'a', 'pause'), ev(500, 'b', 'acquired'),
                  mark(1000, 'a', 'resume'), ev(1001, 'a', 'unit_begin'), ev(1002, 'a', 'lost')]
        self.assertEqual(len(overlaps(terms(events, until=2000 * MS))), 1)

    def test_units_that_follow_each_other_do_not_overlap(self):
        events = [ev(0, 'a', 'unit_begin'), ev(80, 'a', 'unit_end'), ev(80, 'b', 'unit_begin'),
                  ev(90, 'b', 'unit_end')]
        self.assertEqual(unit_overlaps(units(events, until=1000 * MS)), [])

    def test_a_unit_in_flight_when_the_next_leader_starts_one_is_an_overlap(self):
        events = [ev(0, 'a', 'unit_begin'), ev(50, 'b', 'unit_begin'), ev(60, 'a', 'unit_end'),
                  ev(150, 'b', 'unit_end')]
        [overlap] = unit_overlaps(units(events, until=1000 * MS))
        self.assertEqual((overlap.first.holder[0], overlap.second.holder[0]), ('a', 'b'))
        self.assertEqual((overlap.start, overlap.end), (50 * MS, 60 * MS))

    def test_an_open_unit_runs_until_its_process_exits_or_the_end(self):
        events = [ev(0, 'a', 'unit_begin'), mark(40, 'a', 'exit'), ev(30, 'b', 'unit_begin')]
        found = units(events, until=500 * MS)
        self.assertEqual(sorted((u.holder[0], u.start, u.end) for u in found),
                         [('a', 0, 40 * MS), ('b', 30 * MS, 500 * MS)])
        self.assertEqual(len(unit_overlaps(found)), 1)

    def test_units_of_one_process_never_overlap_each_other(self):
        events = [ev(0, 'a', 'unit_begin'), ev(10, 'a', 'unit_begin', index=1), ev(20, 'a', 'unit_end'),
                  ev(30, 'a', 'unit_end', index=1)]
        self.assertEqual(unit_overlaps(units(events, until=1000 * MS)), [])

    def test_a_unit_its_process_was_paused_in_is_marked(self):
        events = [ev(0, 'a', 'unit_begin'), mark(10, 'a', 'pause'), mark(500, 'a', 'resume'),
                  ev(501, 'a', 'unit_end'), ev(600, 'a', 'unit_begin'), ev(700, 'a', 'unit_end')]
        self.assertEqual([u.paused for u in sorted(units(events, until=1000 * MS), key=lambda u: u.start)],
                         [True, False])


if __name__ == '__main__':
    unittest.main()
