# frozen_string_literal: true

require_relative "test_helper"

# The API beyond the original gem's: KubernetesLeaderElection::Elector.
class ElectorTest < Minitest::Test
  include ClusterHelpers

  TIMINGS = { lease_duration: 3, renew_deadline: 2, retry_period: 0.5 }.freeze

  def elector(name, identity, **options)
    KubernetesLeaderElection::Elector.new(name, namespace: NAMESPACE, identity: identity, kubeclient: kubeclient,
                                                **TIMINGS, **options)
  end

  # Records every event type as it is delivered.
  def recorded(elector)
    events = Queue.new
    KubernetesLeaderElection::Elector::EVENTS.each { |type| elector.on(type) { |event| events << event } }
    events
  end

  def next_of(events, type, timeout: 20)
    deadline = monotonic + timeout
    loop do
      left = deadline - monotonic
      flunk "no #{type} event within #{timeout}s" if left <= 0
      event = Timeout.timeout(left) { events.pop }
      return event if event[:type] == type
    end
  rescue Timeout::Error
    flunk "no #{type} event within #{timeout}s"
  end

  def test_a_leader_hands_over_on_stop_and_no_block_runs_after_stop_returns
    name = unique_lease
    a = elector(name, "a")
    a_events = recorded(a)
    a.start
    assert_raises(KubernetesLeaderElection::Error) { a.start }
    acquired = next_of(a_events, :acquired)
    assert_equal "a", acquired[:identity]
    assert a.leader?
    assert_equal "a", a.leader
    assert_equal acquired[:term], a.term

    b = elector(name, "b")
    b_events = recorded(b)
    b.start
    assert_equal "a", next_of(b_events, :leader_changed)[:leader]
    refute b.leader?

    a.stop
    delivered = a_events.size
    sleep 1
    assert_equal delivered, a_events.size, "events delivered after stop returned"
    remaining = delivered.times.map { a_events.pop }
    assert_equal :stopped, remaining.last[:type]
    lost = remaining.find { |e| e[:type] == :lost }
    assert_equal :stopped, lost[:reason]
    refute a.leader?

    taken = next_of(b_events, :acquired, timeout: 5) # released: no wait for expiry
    assert_equal acquired[:term] + 1, taken[:term]
    assert_equal "b", lease(name).spec.holderIdentity
    b.stop
  end

  def test_metrics_give_client_gos_master_status_per_elector
    name = unique_lease
    a = elector(name, "a")
    a_events = recorded(a)
    a.start
    next_of(a_events, :acquired)
    b = elector(name, "b")
    b_events = recorded(b)
    b.start
    next_of(b_events, :leader_changed)
    series = ->(identity) { %(leader_election_master_status{name="#{name}",namespace="#{NAMESPACE}",identity="#{identity}"}) }
    [KubernetesLeaderElection.metrics, a.metrics].each do |text| # two reads, each a whole exposition
      assert_includes text, "#{series.call('a')} 1\n"
      assert_includes text, "#{series.call('b')} 0\n"
      assert_match(/^# TYPE leader_election_slowpath_total counter$/, text)
    end
  ensure
    a&.stop
    b&.stop
  end

  def test_stop_from_inside_a_block_delivers_lost_and_stopped_before_returning
    e = elector(unique_lease, "a")
    order = []
    done = Queue.new
    e.on_acquired do
      e.stop
      order << :stop_returned
      done << true
    end
    e.on_lost { |event| order << [:lost, event[:reason]] }
    e.on_stopped { order << :stopped }
    e.start
    Timeout.timeout(20) { done.pop }
    assert_equal [%i[lost stopped], :stopped, :stop_returned], order
    e.stop # idempotent
  end

  def test_a_block_that_raises_is_logged_and_does_not_stop_the_events
    reports = Queue.new
    logger = Object.new
    %i[debug info warn].each { |level| logger.define_singleton_method(level) { |_| nil } }
    logger.define_singleton_method(:error) { |fields| reports << fields[:message] }
    e = elector(unique_lease, "a", logger: logger)
    events = recorded(e)
    e.on_acquired { raise "boom" }
    e.start
    next_of(events, :acquired)
    next_of(events, :renewed)
    e.stop
    assert_equal "on(:acquired) block raised RuntimeError: boom", Timeout.timeout(5) { reports.pop }
  end

  def test_engine_logs_reach_the_logger_as_hashes_with_message
    lines = Queue.new
    logger = Object.new
    %i[debug info warn error].each { |level| logger.define_singleton_method(level) { |fields| lines << [level, fields] } }
    e = elector(unique_lease, "logged", logger: logger)
    events = recorded(e)
    e.start
    next_of(events, :acquired)
    e.stop
    seen = []
    # Lines travel on their own queue: the release's may come after stop.
    eventually(what: "the release logged") do
      seen << lines.pop until lines.empty?
      seen.any? { |_, fields| fields[:message] == "released the lease" }
    end
    assert(seen.any? { |level, fields| level == :info && fields[:message] == "acquired leadership" }, seen.inspect)
    assert(seen.all? { |_, fields| fields.is_a?(Hash) && fields.key?(:message) })
  end

  # Waits on the engine release the GVL (other threads run meanwhile) and
  # give way to Thread#kill and Thread#raise.
  def test_blocking_waits_release_the_gvl_and_are_interruptible
    native = elector(unique_lease, "idle").instance_variable_get(:@native) # never started: no events
    [->(t) { t.kill }, ->(t) { t.raise(Interrupt) }].each do |interrupt|
      returned = false
      waiter = Thread.new do
        native.next_event(nil)
        returned = true
      rescue Interrupt
        nil
      end
      counter = 0
      until_time = monotonic + 0.5
      counter += 1 while monotonic < until_time
      assert_operator counter, :>, 1000, "the main thread was starved"
      assert waiter.alive?, "next_event returned without an event"
      interrupt.call(waiter)
      assert waiter.join(2), "the wait was not interrupted"
      refute returned
    end
  end

  def test_invalid_options_raise_argument_errors_naming_them
    error = assert_raises(ArgumentError) { elector(unique_lease, "a", lease_duration: 2, renew_deadline: 2) }
    assert_equal "lease_duration", error.field
    assert_match(/must be greater than renew_deadline/, error.message)
    assert_equal "namespace", assert_raises(ArgumentError) {
      KubernetesLeaderElection::Elector.new("a", namespace: "Bad Namespace", identity: "a", kubeclient: kubeclient)
    }.field
    assert_equal "retry_period", assert_raises(ArgumentError) { elector("a", "a", retry_period: 0) }.field
    assert_equal "event", assert_raises(ArgumentError) { elector("a", "a").on(:won) {} }.field
    # Out of range for any duration: named, never turned into a default.
    error = assert_raises(ArgumentError) { elector("a", "a", release_timeout: 1e300) }
    assert_equal "release_timeout", error.field
    assert_match(/received 1e300/, error.message)
    assert_equal "identity", assert_raises(ArgumentError) { elector("a", "pod\0a") }.field
    assert_equal "labels", assert_raises(ArgumentError) { elector("a", "a", labels: { "bad key" => "x" }) }.field
    assert_equal "labels", assert_raises(ArgumentError) { elector("a", "a", labels: { "app" => 1 }) }.field
    owner = { apiVersion: "v1", kind: "Pod", name: "p" } # no uid
    error = assert_raises(ArgumentError) { elector("a", "a", owner: owner) }
    assert_equal "owner.uid", error.field
    assert_match(/\Ainvalid owner.uid: must not be empty/, error.message)
    assert_equal "lease_duration", assert_raises(ArgumentError) { elector("a", "a", lease_duration: nil) }.field
    assert_equal "name", assert_raises(ArgumentError) { elector("Bad Name", "a") }.field
  end

  # One invalid value for every option of the engine, named as this gem
  # spells it; a test fails when the engine gains an option without a case.
  def test_every_option_has_an_invalid_case_naming_it
    base = { namespace: NAMESPACE, identity: "a" }
    owner = { apiVersion: "v1", kind: "Pod", name: "p", uid: "u" }
    cases = [
      ["name", ["Bad Name", base]],
      ["namespace", ["a", base.merge(namespace: "Bad_NS")]],
      ["identity", ["a", base.merge(identity: "")]],
      ["identity", ["a", base.merge(identity: 7)]],
      ["lease_duration", ["a", base.merge(lease_duration: (2**32) + 15)]],
      ["lease_duration", ["a", base.merge(lease_duration: 0)]],
      ["renew_deadline", ["a", base.merge(renew_deadline: 1)]],
      ["retry_period", ["a", base.merge(retry_period: -1)]],
      ["release_on_stop", ["a", base.merge(release_on_stop: "yes")]],
      ["release_timeout", ["a", base.merge(release_timeout: 0)]],
      ["stop_timeout", ["a", base.merge(stop_timeout: Float::NAN)]],
      ["labels", ["a", base.merge(labels: { "k" => "-bad-" })]],
      ["owner.apiVersion", ["a", base.merge(owner: owner.merge(apiVersion: ""))]],
      ["owner.kind", ["a", base.merge(owner: owner.merge(kind: ""))]],
      ["owner.name", ["a", base.merge(owner: owner.merge(name: ""))]],
      ["owner.uid", ["a", base.merge(owner: owner.merge(uid: ""))]],
      ["owner.uid", ["a", base.merge(owner: owner.merge(uid: 5))]],
      ["owner.block_owner_deletion", ["a", base.merge(owner: owner.merge(block_owner_deletion: true))]],
      ["owner.controller", ["a", base.merge(owner: owner.merge(controller: "true"))]],
      ["kubeconfig", ["a", base.merge(kubeconfig: "")]],
      ["kubeconfig", ["a", base.merge(kubeconfig: "/k", url: "https://k")]],
      ["context", ["a", base.merge(context: "")]],
      ["url", ["a", base.merge(url: "ftp://k")]],
      ["token", ["a", base.merge(token: "t")]],
      ["token_file", ["a", base.merge(url: "https://k", token: "t", token_file: "/t")]],
      ["ca_file", ["a", base.merge(ca_file: "/ca")]],
      ["insecure_skip_tls_verify", ["a", base.merge(insecure_skip_tls_verify: true)]],
      ["insecure_skip_tls_verify", ["a", base.merge(insecure_skip_tls_verify: 1)]],
      ["kubeclient", ["a", base.merge(kubeclient: kubeclient, url: "https://k")]]
    ]
    cases.each do |field, (name, options)|
      error = assert_raises(KubernetesLeaderElection::ConfigError, options.inspect) do
        KubernetesLeaderElection::Elector.new(name, **options)
      end
      assert_equal field, error.field, error.message
      assert_match(/\A(invalid )?#{Regexp.escape(field)}: /, error.message)
    end
    refused = cases.map(&:first)
    KubernetesLeaderElection::Native.option_names.each do |option|
      assert_includes refused, option, "no invalid case for the engine's option #{option}"
    end
  end

  # Every option of the engine is a keyword of Elector.new (owner.* are keys
  # of owner:).
  def test_every_option_of_the_engine_is_a_keyword
    keywords = KubernetesLeaderElection::Elector.instance_method(:initialize).parameters.map { |_, name| name.to_s }
    names = KubernetesLeaderElection::Native.option_names
    refute_empty names
    names.each { |option| assert_includes keywords, option.split(".").first, option }
    readme = File.read(File.join(__dir__, "..", "README.md"))
    names.each { |option| assert_includes readme, "`#{option}`", "README.md does not document #{option}" }
  end

  def test_labels_are_written_and_a_renewing_leader_is_healthy
    name = unique_lease
    e = elector(name, "a", labels: { "app" => "ruby-test" })
    events = recorded(e)
    e.start
    next_of(events, :acquired)
    assert_equal "ruby-test", lease(name).metadata.labels[:app]
    assert_nil e.check
    assert_nil e.check(1)
    assert_equal "tolerance", assert_raises(ArgumentError) { e.check(-1) }.field
  ensure
    e&.stop
  end

  # A Ruby elector and a Rust one (the candidate program of the demo and the
  # benchmarks, client-go's 15/10/2 s timings) share one lease: each waits
  # for the other's release.
  def test_a_ruby_and_a_rust_elector_share_a_lease
    participant = ENV.fetch("ELECTOR_PARTICIPANT")
    name = unique_lease
    ruby = elector(name, "ruby-1")
    events = recorded(ruby)
    ruby.start
    next_of(events, :acquired)

    rust = Child.new({}, participant, "--kubeconfig", ENV.fetch("ELECTOR_KUBECONFIG"), "--lease", name,
                     "--identity", "rust-1", "--verbose")
    (@children ||= []) << rust
    assert rust.line(/leader ruby-1/), rust.output
    ruby.stop
    assert rust.line(/acquired/, timeout: 10), rust.output

    again = elector(name, "ruby-2")
    events = recorded(again)
    again.start
    assert_equal "rust-1", next_of(events, :leader_changed)[:leader]
    refute again.leader?
    rust.signal("TERM") # releases
    next_of(events, :acquired, timeout: 10)
    assert rust.wait.success?
    assert_equal "ruby-2", lease(name).spec.holderIdentity
    again.stop
  end
end
