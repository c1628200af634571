# frozen_string_literal: true

class KubernetesLeaderElection
  # How the engine reaches the API server, taken from a Kubeclient::Client:
  # its endpoint, bearer token or token file, CA file and verify setting.
  # The engine re-reads a token file as it rotates.
  module Connection
    module_function

    # The connection options for the engine: those given (type-checked),
    # or those of a kubeclient, which cannot be given with them.
    def of(kubeclient, **options)
      given = options.compact
      Check.types(given.except(:insecure_skip_tls_verify), String)
      Check.types(given.slice(:insecure_skip_tls_verify), TrueClass, FalseClass)
      return options unless kubeclient
      raise ConfigError.new("kubeclient: give kubeclient or #{given.keys.join(', ')}, not both", "kubeclient") if given.any?

      from_kubeclient(kubeclient)
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
      if auth[:bearer_token] && auth[:bearer_token_file]
        raise ConfigError.new("kubeclient: give bearer_token or bearer_token_file, not both", "kubeclient")
      end

      {
        url: server_url(client.api_endpoint),
        token: auth[:bearer_token],
        token_file: auth[:bearer_token_file],
        ca_file: ssl[:ca_file],
        insecure_skip_tls_verify: (true if ssl.key?(:verify_ssl) && ssl[:verify_ssl] == OpenSSL::SSL::VERIFY_NONE)
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
