# frozen_string_literal: true

require_relative "test_helper"

# Elector#lead: leader work that runs while leading, and a handover that
# waits for it.
class LeadTest < Minitest::Test
  include ClusterHelpers

  # A lease far longer than any handover here: one within it was a release.
  LONG = { lease_duration: 30, renew_deadline: 15, retry_period: 0.5 }.freeze

  def elector(name, identity, **options)
    KubernetesLeaderElection::Elector.new(name, namespace: NAMESPACE, identity: identity, kubeclient: kubeclient,
                                                **LONG, **options)
  end

  def until_true(timeout = 10)
    deadline = monotonic + timeout
    sleep 0.01 until yield || monotonic > deadline
    assert yield, "condition not met within #{timeout}s"
  end

  # Leads on `name`, in a thread, running units of `unit` seconds that check
  # for the end of the term only between units (interrupt: false), so the
  # unit in flight at the loss runs to its end.
  def worker(name, identity, units, unit: 0.3)
    e = elector(name, identity)
    thread = Thread.new do
      e.lead(interrupt: false) do |leadership|
        until leadership.lost?
          began = monotonic
          sleep unit
          units << [identity, began, monotonic]
        end
      end
    end
    [e, thread]
  end

  def test_a_graceful_handover_waits_for_the_unit_in_flight
    name = unique_lease
    units = Queue.new
    a, a_thread = worker(name, "a", units)
    until_true { units.size.positive? }
    b, b_thread = worker(name, "b", units)
    until_true { b.leader == "a" }
    sleep 0.15 # a is mid-unit
    a.stop
    a_thread.join(10)
    a_end = units.size.times.map { units.pop }.select { |u| u[0] == "a" }.map(&:last).max
    until_true { units.size.positive? }
    b.stop
    b_thread.join(10)
    b_units = units.size.times.map { units.pop }
    b_first = b_units.select { |u| u[0] == "b" }.map { |u| u[1] }.min
    assert_operator a_end, :<=, b_first, "b began a unit before a's work ended"
    assert_operator b_first - a_end, :<, 10, "the lease expired instead of being released"
  end

  def test_the_block_is_interrupted_with_leadership_lost_and_the_release_follows_it
    name = unique_lease
    leader = elector(name, "a")
    seen = Queue.new
    thread = Thread.new do
      leader.lead do |leadership|
        seen << leadership.term
        sleep
      rescue KubernetesLeaderElection::LeadershipLost => e
        seen << e.reason
        # The lease is still ours while the block winds down.
        seen << lease(name).spec.holderIdentity
        raise
      end
    end
    assert_equal 0, Timeout.timeout(10) { seen.pop }
    leader.stop
    assert_equal [:stopped, "a"], [Timeout.timeout(10) { seen.pop }, seen.pop]
    assert_same leader, thread.value
    assert_equal "", lease(name).spec.holderIdentity
  end

  def test_an_error_in_the_block_stops_the_elector_and_is_raised
    e = elector(unique_lease, "a")
    error = assert_raises(RuntimeError) { Timeout.timeout(20) { e.lead { raise "work failed" } } }
    assert_equal "work failed", error.message
    refute e.leader?
    assert_raises(KubernetesLeaderElection::Error) { e.start }
  end

  def test_stop_from_inside_the_block_ends_the_term_and_lead_returns
    e = elector(unique_lease, "a")
    terms = []
    Timeout.timeout(20) do
      e.lead do |leadership|
        terms << leadership.term
        e.stop
        sleep # interrupted by the loss
      end
    end
    assert_equal [0], terms
  end

  def test_stop_from_a_lost_block_only_begins_it_and_the_release_follows_the_block
    name = unique_lease
    e = elector(name, "a", stop_timeout: 30)
    held = Queue.new
    e.on_lost do
      e.stop # from the lost block: must not wait for this block
      held << lease(name).spec.holderIdentity
    end
    e.start
    until_true { e.leader? }
    began = monotonic
    e.stop
    assert_operator monotonic - began, :<, 10, "stop waited out the stop timeout"
    assert_equal "a", held.pop
    assert_equal "", lease(name).spec.holderIdentity
  end

  def test_lead_after_start_runs_the_block_for_the_term_in_progress
    e = elector(unique_lease, "a")
    e.start
    until_true { e.leader? }
    terms = Queue.new
    thread = Thread.new { e.lead { |leadership| (terms << leadership.term) && sleep } }
    assert_equal 0, Timeout.timeout(10) { terms.pop }
    e.stop
    assert_same e, thread.value
    assert terms.empty?, "the block ran twice for one term"
  end

  def test_bad_arguments_name_the_field
    e = elector(unique_lease, "a")
    assert_equal "block", assert_raises(KubernetesLeaderElection::ConfigError) { e.lead }.field
    error = assert_raises(KubernetesLeaderElection::ConfigError) { elector(unique_lease, "a", stop_timeout: 0) }
    assert_equal "stop_timeout", error.field
  end
end
