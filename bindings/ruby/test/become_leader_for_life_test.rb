# frozen_string_literal: true

require_relative "test_helper"

# The original gem's API, against the local control plane.
class BecomeLeaderForLifeTest < Minitest::Test
  include ClusterHelpers

  INTERVAL = 1 # lease 2 s, renewals every 0.5 s

  def child_env(pod)
    pod_env(pod).merge("ELECTOR_TEST_SERVER" => SERVER, "ELECTOR_TEST_TOKEN" => token(:elector),
                       "ELECTOR_TEST_CA_FILE" => CA_FILE)
  end

  def for_life(pod, lease)
    ruby_child(child_env(pod), "for_life.rb", lease, INTERVAL.to_s)
  end

  # The usage example of the original gem's README, unchanged: in a mount
  # namespace where /var/run/secrets holds the service account files a Pod
  # would have, with KUBERNETES_SERVICE_* pointing at the local API server.
  def test_the_readme_example_runs_unchanged
    skip "needs root for a private mount namespace (unshare)" unless Process.uid.zero?
    # The example's lease is "my-app"; start from a clean slate.
    admin.delete_entity("leases", "my-app", NAMESPACE) if lease("my-app")
    secrets = Dir.mktmpdir("serviceaccount")
    File.write(File.join(secrets, "token"), token(:elector))
    File.write(File.join(secrets, "ca.crt"), File.read(CA_FILE))
    port = URI(SERVER).port
    env = pod_env("example-pod").merge("KUBERNETES_SERVICE_HOST" => "127.0.0.1",
                                       "KUBERNETES_SERVICE_PORT_HTTPS" => port.to_s)
    setup = "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && " \
            "cp \"$0\"/token \"$0\"/ca.crt /run/secrets/kubernetes.io/serviceaccount/ && exec \"$1\" \"$2\""
    child = Child.new(env, "unshare", "--mount", "--propagation", "private", "sh", "-c", setup,
                      secrets, RbConfig.ruby, File.join(FIXTURES, "readme_example.rb"))
    (@children ||= []) << child
    assert child.line(/I'm the leader now/, timeout: 30), child.output

    held = lease("my-app")
    assert_equal "example-pod", held.spec.holderIdentity
    assert_equal 60, held.spec.leaseDurationSeconds # 2 × the default interval
    owner = held.metadata.ownerReferences.first
    assert_equal %w[v1 Pod example-pod], [owner.apiVersion, owner.kind, owner.name]
    assert_equal env["POD_UID"], owner.uid

    # Unlike the original, the lease is released when the process exits.
    child.signal("TERM")
    child.wait
    assert_equal "", lease("my-app").spec.holderIdentity.to_s, child.output
  ensure
    FileUtils.rm_rf(secrets) if secrets
  end

  def test_two_processes_yield_exactly_one_leader
    name = unique_lease
    a = for_life("pod-a", name)
    b = for_life("pod-b", name)
    leader_line = eventually(what: "a leader") { a.line(/LEADER/, timeout: 0.1) || b.line(/LEADER/, timeout: 0.1) }
    leader, standby = leader_line.include?("pod-a") ? [a, b] : [b, a]
    # Several lease durations later, still one leader, and the lease agrees.
    refute standby.line(/LEADER/, timeout: 5 * INTERVAL * 2), standby.output
    assert_equal leader_line.split.last, lease(name).spec.holderIdentity
    refute_match(/RAISED/, leader.output)
  end

  def test_a_killed_leader_is_replaced_after_the_lease_duration
    name = unique_lease
    a = for_life("pod-a", name)
    assert a.line(/LEADER pod-a/), a.output
    b = for_life("pod-b", name)
    eventually(what: "pod-b to see the lease") { b.output.include?("trying to become leader") }
    sleep 1 # b has read the lease and follows it
    a.signal("KILL")
    killed_at = monotonic
    assert b.line(/LEADER pod-b/, timeout: 20), b.output
    waited = monotonic - killed_at
    # Never before the lease could have expired: b's clock started at the
    # last renewal it saw, at most one renewal period (0.5 s) before the kill.
    assert_operator waited, :>=, (2 * INTERVAL) - (INTERVAL / 2.0) - 0.1
    assert_equal "pod-b", lease(name).spec.holderIdentity
  end

  def test_a_lease_taken_by_another_holder_raises_lost_leadership_to_it
    name = unique_lease
    a = for_life("pod-a", name)
    assert a.line(/LEADER pod-a/), a.output
    take_over(name, "intruder")
    assert a.line(/RAISED/, timeout: 10), a.output
    assert_includes a.output, "RAISED RuntimeError: Lost leadership to intruder"
    assert_equal 3, a.wait.exitstatus
  end

  # The original raised only when its block had returned; a block still
  # running when leadership ends gets the error at once.
  def test_leadership_lost_while_the_block_runs_is_raised_in_the_calling_thread
    name = unique_lease
    with_env(pod_env("pod-in-block")) do
      elector = KubernetesLeaderElection.new(name, kubeclient, logger: nil, interval: INTERVAL)
      leading = Queue.new
      error = nil
      thread = Thread.new do
        elector.become_leader_for_life do
          leading << true
          sleep # leader work that never returns
        end
      rescue RuntimeError => e
        error = e
      end
      leading.pop
      take_over(name, "intruder")
      assert thread.join(10), "become_leader_for_life did not raise"
      assert_equal "Lost leadership to intruder", error&.message
    end
  end

  def test_statsd_counts_leader_running_each_interval_while_leading
    statsd = Class.new do
      attr_reader :counts

      def initialize
        super
        @counts = Hash.new(0)
      end

      def increment(name)
        @counts[name] += 1
      end
    end.new
    name = unique_lease
    with_env(pod_env("pod-statsd")) do
      elector = KubernetesLeaderElection.new(name, kubeclient, logger: nil, statsd: statsd, interval: INTERVAL)
      leading_since = nil
      thread = Thread.new { elector.become_leader_for_life { leading_since = monotonic } }
      eventually(what: "3 leader_running increments") { statsd.counts["leader_running"] >= 3 }
      # Once per interval: one at once, then one each INTERVAL seconds.
      assert_operator statsd.counts["leader_running"], :<=, ((monotonic - leading_since) / INTERVAL) + 2
      thread.kill.join
    end
    # A thread killed while leading releases the lease on its way out.
    assert_equal "", lease(name).spec.holderIdentity.to_s
    assert_equal ["leader_running"], statsd.counts.keys
  end

  def test_api_errors_are_retried_then_raised
    # `nobody` may not touch leases: every request is refused (403).
    client = kubeclient(:nobody)
    with_env(pod_env("pod-forbidden")) do
      elector = KubernetesLeaderElection.new(unique_lease, client, logger: nil, interval: INTERVAL, retry_backoffs: [0.1, 0.2])
      started = monotonic
      error = assert_raises(KubernetesLeaderElection::ApiError) { elector.become_leader_for_life { flunk "led" } }
      assert_equal :forbidden, error.kind
      assert_match(/retry budget 0.3/, error.message)
      assert_operator monotonic - started, :>=, 0.3
    end
  end

  def test_invalid_arguments_raise_argument_errors_naming_them
    {
      "interval" => { interval: -1 },
      "retry_backoffs" => { retry_backoffs: [1, -2] },
      "statsd" => { statsd: Object.new },
      "logger" => { logger: Object.new }
    }.each do |field, options|
      error = assert_raises(ArgumentError) do
        KubernetesLeaderElection.new("my-app", kubeclient, **{ logger: nil }.merge(options))
      end
      assert_equal field, error.field
      assert error.message.start_with?(field), error.message
    end
    assert_raises(ArgumentError) { KubernetesLeaderElection.new("my-app", kubeclient, logger: nil, interval: "30") }
    # leaseDurationSeconds (2 × interval) is an integer.
    assert_equal "interval", assert_raises(ArgumentError) {
                               KubernetesLeaderElection.new("a", kubeclient, logger: nil, interval: 0.3)
                             }.field
    assert_equal "kubeclient", assert_raises(ArgumentError) { KubernetesLeaderElection.new("a", 42, logger: nil) }.field
    assert_equal "name", assert_raises(ArgumentError) { KubernetesLeaderElection.new("", kubeclient, logger: nil) }.field
    # Rules the engine checks are raised before any request is made.
    with_env(pod_env("pod-args")) do
      error = assert_raises(ArgumentError) do
        KubernetesLeaderElection.new("Not_A_Lease", kubeclient, logger: nil).become_leader_for_life { flunk "led" }
      end
      assert_equal "name", error.field
      assert_match(/not a DNS subdomain/, error.message)
    end
    with_env(pod_env("pod-args").merge("POD_NAMESPACE" => nil)) do
      error = assert_raises(ArgumentError) do
        KubernetesLeaderElection.new("a", kubeclient, logger: nil).become_leader_for_life { flunk "led" }
      end
      assert_equal "POD_NAMESPACE", error.field
    end
  end

  private

  # As another process would: the lease names `holder`, freshly renewed.
  # Retried on 409: the leader renews meanwhile.
  def take_over(name, holder)
    current = lease(name)
    now = Time.now.utc.strftime("%FT%T.%6NZ")
    current.spec.holderIdentity = holder
    current.spec.renewTime = now
    current.spec.acquireTime = now
    admin.update_entity("leases", current)
  rescue Kubeclient::HttpError => e
    raise unless e.error_code == 409

    retry
  end

  def with_env(vars)
    saved = vars.keys.to_h { |k| [k, ENV.fetch(k, nil)] }
    vars.each { |k, v| ENV[k] = v }
    yield
  ensure
    saved.each { |k, v| ENV[k] = v }
  end
end
