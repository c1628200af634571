# frozen_string_literal: true

class KubernetesLeaderElection
  # Base class of this gem's own errors.
  class Error < StandardError; end

  # An invalid argument or setting; `field` names it (`interval`,
  # `retry_backoffs`, `name`, `POD_NAMESPACE`, ...).
  class ConfigError < ArgumentError
    attr_reader :field

    def initialize(message = nil, field = nil)
      super(message)
      @field = field
    end
  end

  # Raised inside Elector#lead's block, in its thread, when the term ends
  # (unless `interrupt: false`): stop leader work now. `reason` is the
  # lost event's (:stopped, :renew_deadline_exceeded, :taken_over,
  # :deleted). Elector#lead rescues it.
  class LeadershipLost < Error
    attr_reader :reason

    def initialize(message = nil, reason = nil)
      super(message)
      @reason = reason
    end
  end

  # Elector#check: this elector believes it leads but has not renewed for
  # longer than the lease duration plus the tolerance.
  class Unhealthy < Error; end

  # API requests kept failing for longer than the retry budget. `kind` is
  # one of :unauthorized, :forbidden, :timeout, :unavailable, :invalid,
  # :identity_conflict.
  class ApiError < Error
    attr_reader :kind

    def initialize(message = nil, kind = nil)
      super(message)
      @kind = kind
    end
  end
end
