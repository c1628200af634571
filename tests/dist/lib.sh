# Shared by tests/dist/run and tests/dist/bench: the local package
# registries users install from, and a machine without a Rust toolchain.
# Sourced, not run; expects $root (the repository) and $work (a scratch
# directory removed by the caller).

cache=${ELECTOR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/elector}
dist=$root/target/dist
verdaccio_version=6.8.0  # the last that runs on Node.js 20

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_url() {
  local url=$1 what=$2
  for _ in $(seq 200); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$what did not answer at $url" >&2
  return 1
}

# Runs a command as on a machine without Rust: in a private mount namespace
# where cargo and rustup's homes, libclang and Ruby's headers are hidden under
# empty directories, with cargo's directory left out of PATH. It checks that
# none of them can be found before running the command.
no_toolchain() {
  local hide=("$HOME/.cargo" "$HOME/.rustup") path
  hide+=(/usr/lib/llvm-* /usr/include/ruby-* /usr/include/*-linux-gnu/ruby-*)
  hide+=($(find /usr/lib -name 'libclang*.so*' -type f))
  path=$(tr ':' '\n' <<<"$PATH" | grep -v -e '\.cargo' -e '\.rustup' | paste -sd:)
  # shellcheck disable=SC2016
  PATH=$path unshare --mount --propagation private bash -c '
    set -euo pipefail
    for path in "${@:2:$1}"; do
      if [[ -d $path ]]; then mount -t tmpfs -o ro,size=4k tmpfs "$path"
      elif [[ -e $path ]]; then mount --bind /dev/null "$path"; fi
    done
    shift $(($1 + 1))
    if command -v cargo rustc >/dev/null; then echo "no_toolchain: cargo or rustc is still on PATH" >&2; exit 1; fi
    if [[ -n $(find /usr/lib -name "libclang*.so*" -type f -size +0c -print -quit) ]]; then
      echo "no_toolchain: libclang can still be found" >&2; exit 1
    fi
    if [[ -n $(find /usr/include -name ruby.h -print -quit) ]]; then echo "no_toolchain: ruby.h can still be found" >&2; exit 1; fi
    exec "$@"
  ' no_toolchain "${#hide[@]}" "${hide[@]}" "$@"
}

# A Verdaccio registry on loopback: @elector/* only from what is published
# to it, everything else proxied from (and cached from) the npm registry npm
# is configured with. Sets npm_config_userconfig to an npmrc that points npm
# at it with a publishing token.
start_npm_registry() {
  local home=$cache/verdaccio-$verdaccio_version port upstream token
  if [[ ! -x $home/node_modules/.bin/verdaccio ]]; then
    mkdir -p "$home"
    (cd "$home" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "verdaccio@$verdaccio_version" >/dev/null)
  fi
  upstream=$(npm config get registry)
  port=$(free_port)
  mkdir -p "$work/verdaccio"
  cat >"$work/verdaccio/config.yaml" <<YAML
storage: $work/verdaccio/storage
auth:
  htpasswd:
    file: $work/verdaccio/htpasswd
uplinks:
  upstream:
    url: $upstream
    maxage: 60m
packages:
  '@elector/*':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
    publish: \$authenticated
    proxy: upstream
log: {type: file, path: $work/verdaccio/log, level: warn}
YAML
  "$home/node_modules/.bin/verdaccio" --config "$work/verdaccio/config.yaml" --listen "127.0.0.1:$port" \
    >"$work/verdaccio/stdout" 2>&1 &
  npm_registry_pid=$!
  npm_registry=http://127.0.0.1:$port/
  wait_for_url "${npm_registry}-/ping" verdaccio
  token=$(curl -fsS -X PUT -H 'content-type: application/json' \
    -d '{"name": "elector-ci", "password": "elector-ci"}' \
    "${npm_registry}-/user/org.couchdb.user:elector-ci" | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')
  printf 'registry=%s\n//127.0.0.1:%s/:_authToken=%s\nfund=false\naudit=false\nupdate-notifier=false\n' \
    "$npm_registry" "$port" "$token" >"$work/npmrc"
  export npm_config_userconfig=$work/npmrc
}

publish_npm() {
  local tarball
  for tarball in "$@"; do npm publish --loglevel=error "$tarball" >/dev/null; done
}

# A gem source on loopback serving the given .gem files (gem generate_index
# over a plain HTTP server). Sets gem_source.
start_gem_source() {
  local port
  mkdir -p "$work/gemsource/gems"
  cp "$@" "$work/gemsource/gems/"
  gem generate_index --quiet --directory "$work/gemsource" >/dev/null
  port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$work/gemsource" "$port" >"$work/gemsource.log" 2>&1 &
  gem_source_pid=$!
  gem_source=http://127.0.0.1:$port/
  wait_for_url "${gem_source}specs.4.8.gz" "the gem source"
}

stop_registries() {
  local pid
  for pid in ${npm_registry_pid:-} ${gem_source_pid:-}; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# An empty npm project in DIR.
empty_npm_project() {
  mkdir -p "$1"
  (cd "$1" && npm init -y >/dev/null)
}
