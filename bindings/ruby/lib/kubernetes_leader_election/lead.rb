# frozen_string_literal: true

class KubernetesLeaderElection
  # One term of leadership, as the block given to Elector#lead sees it.
  class Leadership
    # The lease's leaseTransitions for this term: a fencing token that
    # grows with each takeover.
    attr_reader :term

    def initialize(term, native)
      @term = term
      @native = native
      @lost = false
    end

    # Whether the term has ended: stop leader work and return. Read against
    # the renew deadline too, so true at once after a pause, before the
    # lost event is delivered.
    def lost?
      @lost || !@native.leader?
    end

    def lose! # :nodoc:
      @lost = true
    end
  end

  # Elector#lead's side of the events: it runs the block for each term in
  # the thread that called lead, interrupts it on loss, and acknowledges the
  # loss only once the block has returned.
  class Lead # :nodoc:
    attr_reader :thread

    def initialize(native, interrupt)
      @native = native
      @interrupt = interrupt
      @thread = Thread.current
      @terms = Queue.new
      @mutex = Mutex.new
      @running = nil # the Leadership whose block runs now
      @latest = nil # the last term announced, run or not
      @in_block = false
      @unacknowledged = false
    end

    # Whether the calling thread is inside the block.
    def inside?
      Thread.current == @thread && @mutex.synchronize { !@running.nil? }
    end

    # On the event thread.
    def acquired(event)
      leadership = Leadership.new(event[:term], @native)
      @mutex.synchronize do
        # Announced already, by lead joining a term in progress.
        return if @latest && @latest.term == leadership.term && !@latest.lost?

        @latest = leadership
      end
      @terms << leadership
    end

    # On the event thread: the term ends. Acknowledged now if no block runs,
    # else once it has returned.
    def lost(event)
      @mutex.synchronize do
        # A term still queued when it ends never runs its block.
        @latest&.lose!
        if @running
          @running.lose!
          @unacknowledged = true
          @thread.raise(LeadershipLost.new("leadership lost: #{event[:reason]}", event[:reason])) if @interrupt && @in_block
        else
          @native.acknowledge_lost
        end
      end
    end

    def stopped
      @terms << nil
    end

    # On the lead thread: the next term, or nil once stopped.
    def next_term
      @terms.pop
    end

    # Yields `leadership`. LeadershipLost is let in only inside the block;
    # one that comes as the block returns is taken here, not later.
    def run(leadership)
      Thread.handle_interrupt(LeadershipLost => :never) do
        @mutex.synchronize do
          @running = leadership
          @in_block = !leadership.lost?
        end
        begin
          Thread.handle_interrupt(LeadershipLost => :immediate) { yield leadership } unless leadership.lost?
        rescue LeadershipLost
          nil # the term ended: the block was told
        ensure
          finish
        end
      end
    end

    private

    def finish
      @mutex.synchronize do
        @in_block = false
        @running = nil
        if @unacknowledged
          @unacknowledged = false
          @native.acknowledge_lost
        end
      end
      return unless Thread.pending_interrupt?(LeadershipLost)

      begin
        Thread.handle_interrupt(LeadershipLost => :immediate) { nil }
      rescue LeadershipLost
        nil # raised as the block returned
      end
    end
  end

  # The scoped API of Elector; the rest of the class is in elector.rb.
  class Elector
    # Runs the block while this elector leads: once per term, in this
    # thread, with a Leadership (`term`, `lost?`). When the term ends, the
    # block is interrupted with LeadershipLost (the gem's way; pass
    # `interrupt: false` to only have `lost?` turn true), and the loss is
    # acknowledged, so the lease released on stop, only once the block has
    # returned: the next leader's work never overlaps this one's. A block
    # that returns early leaves this elector leading, idle, until the term
    # ends. Starts the elector if it is not started (and when it already
    # leads, runs the block for the term in progress), and returns once it has
    # stopped (`stop` from another thread, or at exit). An error the block
    # raises stops the elector and is raised here.
    def lead(interrupt: true, &block)
      raise ConfigError.new("lead: a block is required", "block") unless block
      raise Error, "lead is already running on this elector" if @lead

      @lead = Lead.new(@native, interrupt)
      if @dispatcher
        @lead.acquired(term: term) if leader?
      else
        start
      end
      while (leadership = @lead.next_term)
        begin
          @lead.run(leadership, &block)
        rescue StandardError
          stop
          raise
        end
      end
      self
    end

    private

    # After the blocks: `lead` runs its own for the term, and a `lost` is
    # acknowledged once it has returned (at once without `lead`).
    def to_lead(event)
      case event[:type]
      when :acquired then @lead&.acquired(event)
      when :lost then @lead ? @lead.lost(event) : @native.acknowledge_lost
      when :stopped then @lead&.stopped
      end
    end
  end
end
