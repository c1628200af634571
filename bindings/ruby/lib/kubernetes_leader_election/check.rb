# frozen_string_literal: true

class KubernetesLeaderElection
  # Argument checks: each failure is a ConfigError (an ArgumentError) that
  # names the argument and the rule.
  module Check
    module_function

    def fail!(field, rule, value)
      raise ConfigError.new("#{field}: #{rule}, got #{value.inspect}", field)
    end

    def string(value, field)
      fail!(field, "must be a non-empty String", value) unless value.is_a?(String) && !value.empty?
    end

    # Each value is one of `classes`; the engine checks what it holds.
    def types(fields, *classes)
      fields.each do |field, value|
        next if classes.any? { |c| value.is_a?(c) }

        fail!(field.to_s, "must be #{classes.map(&:name).join(' or ')}", value)
      end
    end

    def all_seconds(fields)
      fields.each { |field, value| seconds(value, field.to_s) }
    end

    # A number the engine can read: its range is the engine's to check.
    def seconds(value, field)
      fail!(field, "must be a finite number of seconds", value) unless number?(value)
    end

    def positive_seconds(value, field)
      fail!(field, "must be a positive number of seconds", value) unless number?(value) && value.positive?
    end

    def whole(value, field, rule)
      fail!(field, rule, value) unless value == value.round
    end

    def backoffs(value, field)
      return if value.is_a?(Array) && value.all? { |b| number?(b) && b >= 0 }

      fail!(field, "must be an Array of non-negative numbers of seconds", value)
    end

    def logger(value, field)
      fail!(field, "must respond to debug, info, warn and error (a Logger)", value) unless responds?(value, :debug, :info, :warn,
                                                                                                     :error)
    end

    def statsd(value, field)
      fail!(field, "must respond to increment (a StatsD client) or be nil", value) unless responds?(value, :increment)
    end

    def kubeclient(value, field)
      return if responds?(value, :call) || client?(value)

      fail!(field, "must be a Kubeclient::Client or a callable returning one", value)
    end

    # What the connection is read from: a Kubeclient::Client, or alike.
    def client?(value)
      responds?(value, :api_endpoint, :auth_options, :ssl_options)
    end

    def non_negative(value, field)
      fail!(field, "must be a non-negative number of seconds", value) unless number?(value) && !value.negative?
    end

    OWNER_STRINGS = %w[apiVersion kind name uid].freeze
    OWNER_FLAGS = %w[controller blockOwnerDeletion].freeze

    # Kubernetes' ownerReference shape: String values for its four names,
    # booleans for its two flags, no other key. A missing name is the
    # engine's to refuse.
    def owner(value, field)
      fail!(field, "must be a Hash (apiVersion:, kind:, name:, uid:)", value) unless value.is_a?(Hash)
      value.each do |key, item|
        name = "#{field}.#{key}"
        if OWNER_STRINGS.include?(key.to_s)
          fail!(name, "must be a String", item) unless item.is_a?(String)
        elsif OWNER_FLAGS.include?(key.to_s)
          fail!(name, "must be true or false", item) unless [true, false].include?(item)
        else
          fail!(name, "is not a key of an ownerReference (#{(OWNER_STRINGS + OWNER_FLAGS).join(', ')})", item)
        end
      end
    end

    def labels(value, field)
      return if value.is_a?(Hash) && value.all? { |k, v| (k.is_a?(String) || k.is_a?(Symbol)) && v.is_a?(String) }

      fail!(field, "must be a Hash of String keys and values", value)
    end

    def one_of(value, allowed, field)
      fail!(field, "must be one of #{allowed.map(&:inspect).join(', ')}", value) unless allowed.include?(value)
    end

    def number?(value)
      value.is_a?(Numeric) && value.real? && value.finite?
    end

    def responds?(value, *methods)
      methods.all? { |m| value.respond_to?(m) }
    end
  end
end
