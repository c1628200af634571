# frozen_string_literal: true

require_relative "lib/kubernetes_leader_election/version"

Gem::Specification.new do |spec|
  spec.name = "kubernetes_leader_election"
  spec.version = KubernetesLeaderElection::VERSION
  spec.summary = "Kubernetes leader election over a Lease, on a Rust engine shared with Go, C and Node.js"
  spec.description = "A drop-in replacement for the kubernetes_leader_election gem " \
                     "(become_leader_for_life) and an elector with start, stop and event blocks. " \
                     "Wire-compatible with client-go's leaderelection; releases the lease on exit."
  spec.license = "Apache-2.0"
  spec.authors = ["The elector developers"]
  spec.require_paths = ["lib"]
  # bindings/dist stages prebuilt extensions, one per Ruby minor version, as
  # lib/kubernetes_leader_election/X.Y/native.so and names the platform: that
  # makes the platform gem. Otherwise this is the source gem, which builds
  # the extension with cargo at install.
  prebuilt = Dir["lib/kubernetes_leader_election/[0-9]*.[0-9]*/native.so"]
  abis = prebuilt.map { |path| Gem::Version.new(File.basename(File.dirname(path))) }.sort
  if abis.empty?
    spec.extensions = ["ext/kubernetes_leader_election/extconf.rb"]
    native_files = Dir["ext/**/extconf.rb", "rust/**/*"].reject { |f| f.include?("/target/") }
    ruby_versions = ">= 3.1"
  else
    spec.platform = Gem::Platform.new(ENV.fetch("ELECTOR_GEM_PLATFORM") do
      raise "ELECTOR_GEM_PLATFORM is required with prebuilt extensions"
    end)
    native_files = prebuilt
    major, minor = abis.last.segments
    ruby_versions = [">= #{abis.first}", "< #{major}.#{minor + 1}.dev"]
  end
  spec.required_ruby_version = ruby_versions
  spec.files = Dir["lib/**/*.rb", "README.md"] + native_files
  spec.add_dependency "kubeclient", ">= 4.9", "< 5"
  spec.metadata["rubygems_mfa_required"] = "true"
end
