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
  spec.required_ruby_version = ">= 3.1"
  spec.files = Dir["lib/**/*.rb", "ext/**/extconf.rb", "rust/**/*", "README.md"].reject { |f| f.include?("/target/") }
  spec.require_paths = ["lib"]
  spec.extensions = ["ext/kubernetes_leader_election/extconf.rb"]
  spec.add_dependency "kubeclient", ">= 4.9", "< 5"
  spec.metadata["rubygems_mfa_required"] = "true"
end
