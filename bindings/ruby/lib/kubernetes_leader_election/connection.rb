# frozen_string_literal: true

class KubernetesLeaderElection
  # How the engine reaches the API server, taken from a Kubeclient::Client:
  # its endpoint, bearer token or token file, CA file and verify setting.
  # The engine re-reads a token file as it rotates.
  module Connection
    module_function

    # The connection from Elector's options: a kubeclient, else a
    # kubeconfig and context, else inferred (KUBECONFIG, then in-cluster).
    def of(kubeclient, kubeconfig, context)
      if kubeclient
        raise ConfigError.new("kubeclient: give kubeclient or kubeconfig, not both", "kubeclient") if kubeconfig || context

        from_kubeclient(kubeclient)
      elsif kubeconfig || context
        Check.string(kubeconfig, "kubeconfig") if kubeconfig
        Check.string(context, "context") if context
        { kind: "kubeconfig", path: kubeconfig, context: context }
      else
        { kind: "infer" }
      end
    end

    # `client` is a Kubeclient::Client, or a callable returning one.
    def from_kubeclient(client)
      client = client.call if client.respond_to?(:call)
      Check.fail!("kubeclient", "the callable must return a Kubeclient::Client", client) unless Check.client?(client)

      auth = client.auth_options || {}
      ssl = client.ssl_options || {}
      unsupported(auth, :username, "basic auth")
      unsupported(ssl, :client_cert, "client certificate auth")
      unsupported(ssl, :cert_store, "a cert_store (give ssl_options[:ca_file])")
      {
        kind: "url",
        url: server_url(client.api_endpoint),
        token: auth[:bearer_token],
        token_file: auth[:bearer_token_file],
        ca_file: ssl[:ca_file],
        insecure_skip_tls_verify: ssl.key?(:verify_ssl) && ssl[:verify_ssl] == OpenSSL::SSL::VERIFY_NONE
      }
    end

    # The server's base URL: the client's endpoint without the API group
    # path Kubeclient anchors at (`/api`, `/apis/<group>`), keeping any
    # prefix a proxy puts before it.
    def server_url(endpoint)
      url = endpoint.dup
      url.path = url.path.chomp("/").sub(%r{/o?api(s/[^/]+)?\z}, "")
      url.to_s
    end

    def unsupported(options, key, what)
      return unless options[key]

      raise ConfigError.new("kubeclient: #{what} is not supported; use a bearer token or token file", "kubeclient")
    end
  end
end
