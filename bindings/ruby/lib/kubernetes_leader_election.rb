# frozen_string_literal: true

require "json"
require "openssl"
require "kubeclient"

# Leader election over a Kubernetes Lease, on the elector's Rust engine. A
# drop-in for the kubernetes_leader_election gem:
#
#   elector = KubernetesLeaderElection.new("my-app", kubeclient, logger: logger)
#   Thread.new { elector.become_leader_for_life { is_leader = true } }
#
# and, beyond it, KubernetesLeaderElection::Elector: start, stop, leader?,
# leader, term and a block for each event.
class KubernetesLeaderElection
  # The lease is renewed every `interval / 2` seconds and lasts
  # `2 × interval`; a leader that cannot renew steps down after this many
  # intervals, before anyone else may take the lease.
  RENEW_DEADLINE_INTERVALS = 1.3

  def initialize(name, kubeclient, logger:, statsd: nil, interval: 30, retry_backoffs: [0.1, 0.5, 1, 2, 4])
    Check.string(name, "name")
    Check.kubeclient(kubeclient, "kubeclient")
    Check.logger(logger, "logger") if logger
    Check.statsd(statsd, "statsd") if statsd
    Check.positive_seconds(interval, "interval")
    Check.whole(interval * 2, "interval", "must make 2 × interval a whole number of seconds (leaseDurationSeconds)")
    Check.backoffs(retry_backoffs, "retry_backoffs")

    @name = name
    @kubeclient = kubeclient
    @logger = logger
    @statsd = statsd
    @interval = interval
    @retry_backoffs = retry_backoffs
  end

  # The Prometheus text exposition of every running elector of the process, with
  # client-go's names (leader_election_master_status,
  # leader_election_slowpath_total) and the engine's counters as
  # elector_<name>_total: serve it on a /metrics endpoint as it is.
  def self.metrics
    Native.metrics
  end

  # Blocks forever: campaigns until this Pod leads, yields once, then keeps
  # leading, incrementing the statsd counter `leader_running` every
  # `interval`. Raises RuntimeError "Lost leadership to <holder>" when
  # leadership ends (in this thread, even while the block still runs), and
  # KubernetesLeaderElection::ApiError when API requests keep failing for
  # longer than the retry budget (the sum of `retry_backoffs`). On the way
  # out, the lease is released.
  def become_leader_for_life(&)
    mailbox = Mailbox.new
    elector = build_elector
    elector.on_acquired { |event| mailbox << event }
    elector.on_error { |event| mailbox << event }
    lost_while_yielding = guard_block(elector, mailbox)
    log(:info, "trying to become leader ... if both pods show this, delete the #{@name} lease")
    elector.start

    wait_for_leadership(elector, mailbox)
    log(:info, "became leader")
    lost_while_yielding.call(&)
    lead(elector, mailbox)
  ensure
    elector&.stop
  end

  private

  def build_elector
    namespace = env("POD_NAMESPACE")
    pod = env("POD_NAME")
    owner = { apiVersion: "v1", kind: "Pod", name: pod, uid: env("POD_UID") }
    lease_duration = Integer(@interval * 2)
    retry_period = @interval / 2.0
    Elector.new(
      @name, namespace: namespace, identity: pod, kubeclient: @kubeclient, owner: owner,
             logger: @logger, log_level: :info, # no renewal chatter, as the original
             lease_duration: lease_duration, retry_period: retry_period,
             renew_deadline: @interval * RENEW_DEADLINE_INTERVALS
    )
  end

  def env(name)
    value = ENV.fetch(name, "")
    raise ConfigError.new("#{name}: the environment variable must be set (from the Pod's fieldRef)", name) if value.empty?

    value
  end

  # Lost events always reach the mailbox (for `lead`), and are also raised
  # at once in the calling thread while the block runs: it must stop leader
  # work now. A stop from outside (at exit) is not raised.
  def guard_block(elector, mailbox)
    caller = Thread.current
    guard = Mutex.new
    in_block = false
    elector.on_lost do |event|
      mailbox << event
      guard.synchronize { caller.raise(lost_error(event)) if in_block && event[:reason] != :stopped }
    end
    lambda do |&block|
      guard.synchronize { in_block = true }
      block.call
    ensure
      guard.synchronize { in_block = false }
    end
  end

  def wait_for_leadership(elector, mailbox)
    loop do
      event = mailbox.pop
      return if event[:type] == :acquired

      give_up_or_retry(elector, event)
    end
  end

  def lead(elector, mailbox)
    next_report = now
    loop do
      if now >= next_report
        @statsd&.increment("leader_running") # monitored to be always exactly 1
        next_report += @interval
      end
      event = mailbox.pop(next_report - now)
      next unless event
      # Stopped from outside (at exit): nothing was lost to anyone.
      return if event[:type] == :lost && event[:reason] == :stopped
      raise lost_error(event) if event[:type] == :lost

      give_up_or_retry(elector, event)
    end
  end

  def give_up_or_retry(elector, event)
    failing_for = elector.failing_for || 0
    budget = @retry_backoffs.sum
    if failing_for >= budget
      message = "Kubernetes API requests failing for #{failing_for.round(1)}s (retry budget #{budget}s): #{event[:message]}"
      raise ApiError.new(message, event[:kind])
    end

    log(:warn, "Retryable error", type: event[:kind].to_s, error: event[:message])
  end

  def lost_error(event)
    case event[:reason]
    when :taken_over then RuntimeError.new("Lost leadership to #{event[:holder]}")
    when :deleted then RuntimeError.new("Lost leadership: the #{@name} lease was deleted")
    else RuntimeError.new("Lost leadership: no renewal succeeded within the renew deadline")
    end
  end

  def log(level, message, **fields)
    Logs.write(@logger, level, { message: message, **fields }) if @logger
  end

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # A queue with a timed pop (Thread::Queue has none before Ruby 3.2). Its
  # waits release the GVL and are interruptible.
  class Mailbox
    def initialize
      @items = []
      @mutex = Mutex.new
      @ready = ConditionVariable.new
    end

    def <<(item)
      @mutex.synchronize do
        @items << item
        @ready.signal
      end
    end

    # The next item; nil if none came within `timeout` seconds (nil: wait).
    def pop(timeout = nil)
      deadline = timeout && (Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout)
      @mutex.synchronize do
        while @items.empty?
          left = deadline && (deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC))
          return nil if left && left <= 0

          @ready.wait(@mutex, left)
        end
        @items.shift
      end
    end
  end
end

require "kubernetes_leader_election/version"
require "kubernetes_leader_election/errors"
require "kubernetes_leader_election/lead"
require "kubernetes_leader_election/check"
# The platform gem carries one prebuilt extension per Ruby minor version
# (kubernetes_leader_election/X.Y/native); the source gem builds one at install.
ruby_abi = RUBY_VERSION[/\A\d+\.\d+/]
prebuilt = Dir[File.join(__dir__, "kubernetes_leader_election", "[0-9]*.[0-9]*")].map { |dir| File.basename(dir) }
if prebuilt.empty?
  require "kubernetes_leader_election/native"
elsif RbConfig::CONFIG["host_os"].include?("musl")
  # RubyGems of this era take an x86_64-linux gem for musl too; ours is glibc's.
  raise LoadError, "kubernetes_leader_election: this platform gem is built for glibc, not musl; " \
                   "install the source gem: gem install kubernetes_leader_election --platform ruby"
elsif prebuilt.include?(ruby_abi)
  require "kubernetes_leader_election/#{ruby_abi}/native"
else
  raise LoadError, "kubernetes_leader_election: this platform gem has extensions for Ruby #{prebuilt.sort.join(', ')}, " \
                   "not #{ruby_abi}; install the source gem: gem install kubernetes_leader_election --platform ruby"
end
require "kubernetes_leader_election/logs"
require "kubernetes_leader_election/connection"
require "kubernetes_leader_election/elector"
