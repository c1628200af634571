# frozen_string_literal: true

class KubernetesLeaderElection
  # A leader elector for one lease, on the Rust engine. Register blocks for
  # events with `on(:acquired) { |event| ... }` (or `on_acquired { ... }`)
  # before `start`. Blocks run one at a time, in order, on a Ruby thread of
  # this elector's own, never on an engine thread. `acquired` and `lost`
  # alternate; `stopped` is last, and no block runs after `stop` returns.
  #
  # Each event is a Hash with `type:` and the fields of its kind:
  #   acquired        lease:, identity:, term:
  #   renewed         lease:, renew_time:
  #   lost            lease:, reason: (:stopped, :renew_deadline_exceeded,
  #                   :taken_over, :deleted), holder: (when taken over)
  #   leader_changed  lease:, leader: (nil: free or gone)
  #   error           kind: (:unauthorized, :forbidden, :timeout,
  #                   :unavailable, :invalid, :identity_conflict), message:
  #   stopped
  class Elector
    EVENTS = %i[acquired renewed lost leader_changed error stopped].freeze

    @running = {}
    @running_mutex = Mutex.new

    class << self
      # Electors started and not yet stopped; stopped at exit so that a
      # leader releases its lease. Only by the process that started them: a
      # forked child has a copy of the list but not the engine's threads.
      def running(elector, yes)
        @running_mutex.synchronize { yes ? @running[elector] = Process.pid : @running.delete(elector) }
      end

      def stop_all
        @running_mutex.synchronize { @running.select { |_, pid| pid == Process.pid }.keys }.each(&:stop)
      end
    end

    attr_reader :name, :namespace, :identity

    # `name`: the lease. Connection: `kubeclient:` (a Kubeclient::Client or
    # a callable returning one), else `kubeconfig:` and `context:`, else
    # `url:` with `token:` or `token_file:` (re-read as it rotates),
    # `ca_file:` and `insecure_skip_tls_verify:`, else KUBECONFIG or the
    # in-cluster service account. Durations in seconds, client-go's
    # defaults; `release_timeout` bounds the release on stop (nil: 5 s);
    # `stop_timeout` bounds how long `stop` keeps the lease (renewing it)
    # while the `lost` blocks and `lead`'s block finish (nil: 10 s), after
    # which the lease is left to expire instead of released. `logger` gets
    # the engine's lines from `log_level` up (:debug, :info, :warn, :error).
    # The engine checks every value; this checks only Ruby types.
    def initialize(name, namespace:, identity:, kubeclient: nil, kubeconfig: nil, context: nil,
                   url: nil, token: nil, token_file: nil, ca_file: nil, insecure_skip_tls_verify: nil,
                   lease_duration: 15, renew_deadline: 10, retry_period: 2, release_on_stop: true,
                   release_timeout: nil, stop_timeout: nil, owner: nil, labels: nil, logger: nil, log_level: :debug)
      Check.types({ name: name, namespace: namespace, identity: identity }, String)
      Check.types({ release_on_stop: release_on_stop }, TrueClass, FalseClass)
      Check.all_seconds(lease_duration: lease_duration, renew_deadline: renew_deadline, retry_period: retry_period)
      Check.all_seconds({ release_timeout: release_timeout, stop_timeout: stop_timeout }.compact)
      Check.labels(labels, "labels") unless labels.nil?
      Check.owner(owner, "owner") unless owner.nil?
      Check.logger(logger, "logger") if logger
      Check.one_of(log_level, Logs::ORDER, "log_level")
      @name = name
      @namespace = namespace
      @identity = identity
      @logger = logger
      @log_level = log_level
      @handlers = Hash.new { |handlers, type| handlers[type] = [] }
      @finished = false
      connection = Connection.of(kubeclient, kubeconfig: kubeconfig, context: context, url: url, token: token,
                                             token_file: token_file, ca_file: ca_file,
                                             insecure_skip_tls_verify: insecure_skip_tls_verify)
      @native = Native.new(JSON.generate(
                             namespace: namespace, lease_name: name, identity: identity,
                             # Floats: JSON writes a Rational or a BigDecimal as a string.
                             lease_duration: lease_duration.to_f, renew_deadline: renew_deadline.to_f,
                             retry_period: retry_period.to_f, release_on_stop: release_on_stop,
                             release_timeout: release_timeout&.to_f, stop_timeout: stop_timeout&.to_f, owner: owner,
                             labels: labels, **connection
                           ))
    end

    # Calls the block with each event of `type` (one of EVENTS). Register
    # before `start`. Returns self.
    def on(type, &block)
      unless EVENTS.include?(type)
        raise ConfigError.new("event: must be one of #{EVENTS.join(', ')}, got #{type.inspect}",
                              "event")
      end
      raise ConfigError.new("on(#{type.inspect}): a block is required", "block") unless block

      @handlers[type] << block
      self
    end

    EVENTS.each do |type|
      define_method(:"on_#{type}") { |&block| on(type, &block) }
    end

    # Starts campaigning; returns self. The outcome arrives as events.
    # Electors do not survive fork: start them in the process that uses them.
    def start
      # Checked here, not only by the engine: a second dispatcher would
      # deliver beside the first.
      raise Error, "the elector is already started" if @dispatcher

      Logs.register("#{@namespace}/#{@name}", @identity, @logger, @log_level) if @logger
      # The dispatcher exists before the first event can, so that a stop()
      # from another thread always leaves delivery to it.
      @dispatcher = Thread.new { deliver_events }
      @dispatcher.name = "elector-events #{@name}"
      begin
        nil until @native.start # false: an interrupt was pending; raised here
      rescue StandardError
        @dispatcher.kill
        @dispatcher = nil
        raise
      end
      self.class.running(self, true)
      self
    end

    # Stops: a leader gets `lost`, keeps the lease (renewing it) until the
    # `lost` blocks and `lead`'s block have returned, releases it, then
    # `stopped` is delivered. Returns once every block has run; idempotent.
    # From inside an event block it delivers the rest before it returns; from
    # inside a `lost` block or `lead`'s block it only begins the stop (the
    # release waits for that block to return). Interruptible (Ctrl-C,
    # Thread#kill): the stop then goes on in the background. Not from a
    # signal trap (Ruby forbids the locks it takes there): push to a Queue in
    # the trap and stop from a thread.
    def stop
      if stop_awaits_caller?
        @native.request_stop
        return self
      end
      if @dispatcher.nil? || Thread.current == @dispatcher
        # From inside a block (or never started): deliver the rest here,
        # acknowledging `lost` on the way, until `stopped`.
        @native.request_stop
        deliver_next(nil) until @finished
      end
      nil until @native.stop
      @dispatcher.join if @dispatcher && Thread.current != @dispatcher
      self.class.running(self, false)
      self
    end

    # Whether this process leads now (its renew deadline is checked on every
    # call: a process that was paused answers false at once on waking).
    def leader?
      @native.leader?
    end

    # The identity holding the lease as last observed (nil: free or unknown).
    def leader
      @native.leader
    end

    # The lease's leaseTransitions as last observed: while leading, a
    # fencing token that grows with each takeover.
    def term
      @native.term
    end

    # The lease as last observed, as a Hash with symbol keys (Kubernetes
    # field names).
    def lease
      json = @native.lease
      json && JSON.parse(json, symbolize_names: true)
    end

    # The engine's request and transition counters.
    def stats
      JSON.parse(@native.stats, symbolize_names: true)
    end

    # client-go's health check: raises Unhealthy when this elector believes
    # it leads but has not renewed for longer than the lease duration plus
    # `tolerance` seconds (a stuck process); for a liveness probe.
    def check(tolerance = 0)
      Check.non_negative(tolerance, "tolerance")
      reason = @native.check(tolerance.to_f)
      raise Unhealthy, reason if reason
    end

    # The Prometheus text exposition of every running elector of the process (see
    # KubernetesLeaderElection.metrics).
    def metrics
      KubernetesLeaderElection.metrics
    end

    # Seconds API requests have been failing with no success between (nil:
    # the last request succeeded).
    def failing_for
      @native.failing_for
    end

    private

    # Whether a full stop would wait for the calling block itself: the
    # release waits for the `lost` blocks and `lead`'s block to return.
    def stop_awaits_caller?
      @lead&.inside? || (Thread.current == @dispatcher && @delivering == :lost)
    end

    def deliver_events
      nil while deliver_next(nil)
    end

    # Delivers the next event, waiting up to `timeout` seconds (nil:
    # forever). False once `stopped` has been delivered.
    def deliver_next(timeout)
      return false if @finished

      json = @native.next_event(timeout)
      return timeout.nil? unless json # interrupted (raised by the loop), or empty

      event = parse(json)
      @finished = true if event[:type] == :stopped
      @delivering = event[:type]
      begin
        @handlers[event[:type]].each { |handler| call(handler, event) }
      ensure
        @delivering = nil
        to_lead(event) # a lost is acknowledged even if a block raised past `call`
      end
      !@finished
    end

    def parse(json)
      event = JSON.parse(json, symbolize_names: true)
      event[:type] = event.delete(:kind).to_sym
      event[:kind] = event.delete(:error_kind).to_sym if event[:type] == :error
      event[:reason] = event[:reason].to_sym if event[:reason]
      event
    end

    # A block that raises is reported and the others still run: a broken
    # block must not stop the events.
    def call(handler, event)
      handler.call(event)
    rescue StandardError => e
      message = "on(:#{event[:type]}) block raised #{e.class}: #{e.message}"
      if @logger
        Logs.write(@logger, :error, { message: message, backtrace: e.backtrace&.first(5) })
      else
        warn "kubernetes_leader_election: #{message}"
      end
    end

    # A leader that exits releases its lease (the original gem did not).
    at_exit { stop_all }
  end
end
