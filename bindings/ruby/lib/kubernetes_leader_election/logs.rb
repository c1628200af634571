# frozen_string_literal: true

class KubernetesLeaderElection
  # The engine's log lines, routed to the logger of the elector they name.
  # Lines arrive through one process-wide native queue; one Ruby thread
  # (started with the first logger) drains it, so loggers only ever run on
  # Ruby threads. Loggers receive hashes with a `message:` key, as the
  # original gem's did.
  module Logs
    LEVELS = { "trace" => :debug, "debug" => :debug, "info" => :info, "warn" => :warn, "error" => :error }.freeze
    ORDER = %i[debug info warn error].freeze

    @loggers = {}
    @mutex = Mutex.new
    @thread = nil

    class << self
      # Routes the lines of the elector `lease` ("namespace/name") and
      # `identity` from `level` up to `logger`. Kept after the elector stops:
      # its last lines (the release) may still be queued.
      def register(lease, identity, logger, level = :debug)
        @mutex.synchronize do
          @loggers[[lease, identity]] = [logger, ORDER.index(level)]
          start_thread
        end
      end

      # Calls `logger.<level>` with `fields` and rescues what it raises: a
      # broken logger must not take down an elector.
      def write(logger, level, fields)
        logger.public_send(level, fields)
      rescue StandardError => e
        warn "kubernetes_leader_election: the logger raised #{e.class}: #{e.message}"
      end

      private

      def start_thread
        return if @thread

        Native.install_log_sink
        @thread = Thread.new do
          Thread.current.name = "elector-logs"
          Thread.current.report_on_exception = false
          loop do
            line = Native.next_log_line(nil) # nil: interrupted; the loop checks
            route(JSON.parse(line)) if line
          end
        end
      end

      def route(line)
        logger, lowest = @mutex.synchronize { @loggers[[line["lease"], line["identity"]]] }
        level = LEVELS.fetch(line["level"], :info)
        return unless logger && ORDER.index(level) >= lowest

        fields = { message: line["message"] }
        line["fields"].each { |key, value| fields[key.to_sym] = value }
        fields[:target] = line["target"]
        write(logger, level, fields)
      end
    end
  end
end
