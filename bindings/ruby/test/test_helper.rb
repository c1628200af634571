# frozen_string_literal: true

# The gem's tests run against the local control plane (tests/cluster/up),
# with the gem installed from its packed file (tests/ruby/run does both).
# ELECTOR_KUBECONFIG names the cluster's kubeconfig.

require "minitest/autorun"
require "base64"
require "open3"
require "securerandom"
require "tmpdir"
require "yaml"
require "kubernetes_leader_election"

module ClusterHelpers
  KUBECONFIG = YAML.safe_load_file(ENV.fetch("ELECTOR_KUBECONFIG"))
  SERVER = KUBECONFIG.dig("clusters", 0, "cluster", "server")
  CA_FILE = File.join(Dir.mktmpdir("elector-ca"), "ca.crt").tap do |path|
    File.write(path, Base64.decode64(KUBECONFIG.dig("clusters", 0, "cluster", "certificate-authority-data")))
  end
  NAMESPACE = "default" # where the elector user has the lease-manager Role
  FIXTURES = File.join(__dir__, "fixtures")

  def token(user)
    KUBECONFIG.fetch("users").find { |u| u["name"] == user.to_s }.dig("user", "token")
  end

  # A client as the gem's README builds one: the coordination.k8s.io group.
  def kubeclient(user = :elector)
    Kubeclient::Client.new("#{SERVER}/apis/coordination.k8s.io", "v1",
                           auth_options: { bearer_token: token(user) }, ssl_options: { ca_file: CA_FILE })
  end

  def admin
    @admin ||= kubeclient(:admin)
  end

  def unique_lease
    "ruby-#{SecureRandom.hex(4)}"
  end

  def lease(name)
    admin.get_entity("leases", name, NAMESPACE)
  rescue Kubeclient::ResourceNotFoundError
    nil
  end

  def pod_env(pod)
    { "POD_NAME" => pod, "POD_UID" => SecureRandom.uuid, "POD_NAMESPACE" => NAMESPACE }
  end

  # Waits until the block returns a truthy value; fails after `timeout`.
  def eventually(timeout: 20, what: "the condition")
    deadline = monotonic + timeout
    loop do
      value = yield
      return value if value

      flunk "timed out after #{timeout}s waiting for #{what}" if monotonic > deadline
      sleep 0.1
    end
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # A Ruby child process running `script` (a fixture's path) with `env`; its
  # stdout lines are collected as they arrive.
  class Child
    attr_reader :pid, :lines

    def initialize(env, *command)
      @lines = Queue.new
      @seen = []
      stdin, out, @wait = Open3.popen2e(env, *command)
      stdin.close
      @pid = @wait.pid
      @reader = Thread.new { out.each_line { |line| @lines << line.chomp } }
    end

    # The first line matching `pattern` within `timeout` seconds, or nil.
    def line(pattern, timeout: 20)
      found = @seen.find { |l| l.match?(pattern) }
      return found if found

      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
      loop do
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        return nil if left <= 0

        line = pop(left) or return nil
        @seen << line
        return line if line.match?(pattern)
      end
    end

    def output
      @seen += @lines.size.times.map { @lines.pop }
      @seen.join("\n")
    end

    def signal(name)
      Process.kill(name, @pid)
    rescue Errno::ESRCH
      nil
    end

    # Exit status, waiting up to `timeout` seconds; kills it after that.
    def wait(timeout: 20)
      return @wait.value if @wait.join(timeout)

      signal("KILL")
      @wait.value
    end

    private

    def pop(timeout)
      Timeout.timeout(timeout) { @lines.pop }
    rescue Timeout::Error
      nil
    end
  end

  def ruby_child(env, fixture, *args)
    child = Child.new(env, RbConfig.ruby, File.join(FIXTURES, fixture), *args)
    (@children ||= []) << child
    child
  end

  def teardown
    (@children || []).each do |child|
      child.signal("KILL")
      child.wait
    end
    super
  end
end
