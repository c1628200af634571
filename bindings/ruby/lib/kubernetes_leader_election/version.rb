# frozen_string_literal: true

class KubernetesLeaderElection
  # 0.3: the first release on the Rust engine, after the original gem's 0.2.
  VERSION = "0.3.0"
end
