'use strict'

const os = require('node:os')
const {EventEmitter} = require('node:events')

/**
 * Events an elector emits. The first three are the names of
 * @codedependant/kubernetes-leader-election; the others are additions.
 */
const EVENTS = Object.freeze({
  LEADERSHIP_ACQUIRED: 'leadership_acquired'
, LEADERSHIP_LOST: 'leadership_lost'
, LEASE_RENEWED: 'lease_renewed'
, LEADER_CHANGED: 'leader_changed'
, ERROR: 'error'
})

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal']

// At require time, so that a platform without an addon fails here, naming itself.
const native = require('./native.js').load()

// The engine's log lines, routed to the logger of the elector they name.
const loggers = new Map()
const loggerKey = (namespace, lease_name, identity) => `${namespace}/${lease_name}|${identity}`
let log_sink_installed = false

function routeLog(json) {
  const line = JSON.parse(json)
  const log = loggers.get(`${line.lease}|${line.identity}`)
  if (!log) return
  try {
    log[line.level]({...line.fields, target: line.target}, line.message)
  } catch {
    // A failing logger must not end the process (this runs outside any
    // caller's try/catch).
  }
}

function installLogSink() {
  if (log_sink_installed) return
  log_sink_installed = true
  native.setLogSink(routeLog)
}

function invalidType(name, expected, value) {
  const err = new TypeError(`The "${name}" option must be ${expected}; received ${typeof value} ${JSON.stringify(value)}`)
  err.code = 'ERR_INVALID_ARG_TYPE'
  return err
}

function invalidValue(name, message) {
  const err = new RangeError(`The "${name}" option is invalid: ${message}`)
  err.code = 'ERR_INVALID_ARG_VALUE'
  return err
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function checkLabels(labels) {
  if (!isPlainObject(labels) || Object.values(labels).some((v) => typeof v !== 'string')) {
    throw invalidType('labels', 'an object of string values', labels)
  }
}

/** Kubernetes' ownerReference shape: the engine checks the values. */
function checkOwnerReference(owner) {
  const strings = ['apiVersion', 'kind', 'name', 'uid']
  if (!isPlainObject(owner) || strings.some((key) => typeof owner[key] !== 'string')
    || ['controller', 'blockOwnerDeletion'].some((key) => owner[key] !== undefined && typeof owner[key] !== 'boolean')) {
    throw invalidType('owner_reference', 'an ownerReference ({apiVersion, kind, name, uid} strings; controller and blockOwnerDeletion booleans)', owner)
  }
}

/** Numbers given as strings (from the environment) are accepted, as before. */
function numeric(value) {
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return value
}

function checkType(name, value, expected) {
  if (expected === 'boolean' && typeof value !== 'boolean') throw invalidType(name, 'a boolean', value)
  if (expected === 'string' && typeof value !== 'string') throw invalidType(name, 'a string', value)
  if (expected === 'number' && (typeof value !== 'number' || !Number.isFinite(value))) {
    throw invalidType(name, 'a finite number', value)
  }
}

// auto_close: one handler per signal for all electors. It stops every
// auto_close elector, then lets the signal do what it would have done
// without us (end the process) unless the application listens to it too.
const auto_closing = new Set()
const SIGNALS = ['SIGINT', 'SIGTERM']

function onSignal(signal) {
  const others = process.listenerCount(signal) - 1
  const electors = [...auto_closing]
  for (const s of SIGNALS) process.off(s, onSignal)
  Promise.allSettled(electors.map((e) => e.stop())).then(() => {
    if (others === 0) process.kill(process.pid, signal)
  })
}

function autoClose(elector, enable) {
  if (enable) {
    if (auto_closing.size === 0) for (const s of SIGNALS) process.on(s, onSignal)
    auto_closing.add(elector)
  } else if (auto_closing.delete(elector) && auto_closing.size === 0) {
    for (const s of SIGNALS) process.off(s, onSignal)
  }
}

/** A logger that drops everything (the abstract-logging interface). */
const silent = Object.fromEntries(LOG_LEVELS.map((level) => [level, () => {}]))

/**
 * An elector for one Kubernetes Lease: among all electors sharing the lease,
 * exactly one leads. Drop-in for @codedependant/kubernetes-leader-election's
 * Elector, on the elector Rust engine.
 */
class Elector extends EventEmitter {
  #native = null
  #identity
  #lease_name
  #namespace
  #options
  #leading = false
  #started = false
  #stopping = null
  #stopped_event = null
  #local_acquired = null
  #local
  #log_key = null
  // lead(): the work, the running term's {controller, settled} and the first failure.
  #lead = null
  #finished
  #finish

  constructor({
    auto_close = true
  , identity = `elector-${os.hostname()}-${process.pid}`
  , lease_duration_sec
  , lease_name = 'nodejs-leader-election'
  , log = silent
  , namespace = 'default'
  , renew_interval_ms = 10000
  , renew_deadline_ms
  , wait_for_leadership = false
  , release_on_stop = true
  , release_timeout_ms
  , stop_timeout_ms
  , kubeconfig
  , context
  , labels
  , owner_reference
  , url
  , token
  , token_file
  , ca_file
  , insecure_skip_tls_verify
  } = {}) {
    super()
    this.#finished = new Promise((resolve) => { this.#finish = resolve })
    renew_interval_ms = numeric(renew_interval_ms)
    checkType('renew_interval_ms', renew_interval_ms, 'number')
    if (renew_deadline_ms !== undefined) checkType('renew_deadline_ms', renew_deadline_ms, 'number')
    // The original's documented default: 20 s, or twice the renew interval.
    lease_duration_sec = numeric(lease_duration_sec ?? Math.max(20, Math.ceil((2 * renew_interval_ms) / 1000)))
    checkType('auto_close', auto_close, 'boolean')
    checkType('identity', identity, 'string')
    checkType('lease_duration_sec', lease_duration_sec, 'number')
    checkType('lease_name', lease_name, 'string')
    checkType('namespace', namespace, 'string')
    checkType('wait_for_leadership', wait_for_leadership, 'boolean')
    checkType('release_on_stop', release_on_stop, 'boolean')
    if (release_timeout_ms !== undefined) checkType('release_timeout_ms', release_timeout_ms, 'number')
    if (stop_timeout_ms !== undefined) checkType('stop_timeout_ms', stop_timeout_ms, 'number')
    if (kubeconfig !== undefined) checkType('kubeconfig', kubeconfig, 'string')
    if (context !== undefined) checkType('context', context, 'string')
    if (url !== undefined) checkType('url', url, 'string')
    if (token !== undefined) checkType('token', token, 'string')
    if (token_file !== undefined) checkType('token_file', token_file, 'string')
    if (ca_file !== undefined) checkType('ca_file', ca_file, 'string')
    if (insecure_skip_tls_verify !== undefined) checkType('insecure_skip_tls_verify', insecure_skip_tls_verify, 'boolean')
    if (labels !== undefined) checkLabels(labels)
    if (owner_reference !== undefined) checkOwnerReference(owner_reference)
    if (log === null || typeof log !== 'object' || ['debug', 'info', 'warn', 'error'].some((l) => typeof log[l] !== 'function')) {
      throw invalidType('log', `a logger with debug, info, warn and error methods (abstract-logging)`, log)
    }
    if (typeof log.trace !== 'function' || typeof log.fatal !== 'function') log = withAllLevels(log)

    this.#identity = identity
    this.#lease_name = lease_name
    this.#namespace = namespace
    this.log = typeof log.child === 'function'
      ? log.child({module: 'kubernetes-leader-election', identity, lease: lease_name})
      : log
    this.#options = {auto_close, wait_for_leadership}
    this.renew_interval_ms = renew_interval_ms
    this.lease_duration_sec = lease_duration_sec
    this.wait_for_leadership = wait_for_leadership
    // The engine checks every option, in a cluster or not, so that what
    // works on a laptop works in the cluster.
    let checked
    try {
      checked = new (native.NativeElector)({
        namespace
      , leaseName: lease_name
      , identity
      , releaseOnStop: release_on_stop
      , releaseTimeoutMs: release_timeout_ms
      , stopTimeoutMs: stop_timeout_ms
      , leaseDurationSec: lease_duration_sec
      , renewIntervalMs: renew_interval_ms
      , renewDeadlineMs: renew_deadline_ms
      , kubeconfig
      , context
      , labels
      , ownerReference: owner_reference
      , url
      , token
      , tokenFile: token_file
      , caFile: ca_file
      , insecureSkipTlsVerify: insecure_skip_tls_verify
      })
    } catch (err) {
      throw configError(err)
    }
    // Without KUBERNETES_SERVICE_HOST, and with no kubeconfig, context or url,
    // this is not in a cluster: lead without any API call (local
    // development), as the original package does.
    this.#local = !process.env.KUBERNETES_SERVICE_HOST && [kubeconfig, context, url].every((v) => v === undefined)
    if (this.#local) return
    this.#native = checked
    this.#log_key = loggerKey(namespace, lease_name, identity)
  }

  static get EVENTS() { return EVENTS }
  get EVENTS() { return EVENTS }

  /** Whether this elector leads now. */
  get current_leader() {
    if (this.#local) return this.#leading
    return this.#leading && this.#native.isLeader()
  }
  set current_leader(_) { readOnly('current_leader') }

  get lease_name() { return this.#lease_name }
  set lease_name(_) { readOnly('lease_name') }
  get identity() { return this.#identity }
  set identity(_) { readOnly('identity') }
  get namespace() { return this.#namespace }
  set namespace(_) { readOnly('namespace') }

  /** The identity of the observed leader, or null. */
  get leader() {
    if (this.#local) return this.#leading ? this.#identity : null
    return this.#native.leader() ?? null
  }
  set leader(_) { readOnly('leader') }

  /** The lease's leaseTransitions as last observed: the leader's fencing token. */
  get term() {
    if (this.#local) return this.#leading ? 0 : null
    return this.#native.term() ?? null
  }
  set term(_) { readOnly('term') }

  /** The lease as last observed, in Kubernetes JSON shape, or null. */
  getLease() {
    if (this.#local) return null
    const json = this.#native.lease()
    return json ? JSON.parse(json) : null
  }

  /** The engine's counters (API requests by verb, renewals, ...). */
  stats() {
    if (this.#local) return {}
    return JSON.parse(this.#native.stats())
  }

  /**
   * client-go's health check: throws (code ERR_ELECTOR_UNHEALTHY) when this
   * elector believes it leads but has not renewed for longer than the lease
   * duration plus `tolerance_ms`, a stuck process; for a liveness probe.
   */
  check(tolerance_ms = 0) {
    checkType('tolerance_ms', tolerance_ms, 'number')
    if (tolerance_ms < 0) throw invalidValue('tolerance_ms', `must not be negative; received ${tolerance_ms}`)
    if (this.#local) return
    const reason = this.#native.check(tolerance_ms)
    if (reason !== null) {
      const err = new Error(reason)
      err.code = 'ERR_ELECTOR_UNHEALTHY'
      throw err
    }
  }

  /** The Prometheus text exposition of every running elector of the process (see metrics()). */
  metrics() {
    return metrics()
  }

  /**
   * Runs `work` while this elector leads: once per term, as
   * `work({signal, term, lost})`, where `signal` is an AbortSignal aborted
   * when the term ends, `term` the fencing token, and `lost` true once the
   * term has ended (read against the renew deadline too, so true at once
   * after a pause). The loss is acknowledged, and
   * on stop the lease released, only once the promise `work` returns has
   * settled, so the next leader's work never overlaps this one's. Work that
   * resolves early leaves this elector leading, idle, until the term ends;
   * work that rejects stops the elector.
   *
   * Registers the work for every term; may be called before or after
   * start(), and does not start the elector. Returns a promise that settles
   * when the elector has stopped and the work has settled: rejected with the
   * first error the work threw, otherwise resolved. To stop from inside the
   * work, call stop() without awaiting it (or throw): the stop waits for the
   * work to settle.
   */
  lead(work) {
    if (typeof work !== 'function') throw invalidType('work', 'a function', work)
    if (this.#lead) {
      const err = new Error('lead() was already called on this elector: register one function, it runs for every term')
      err.code = 'ERR_ELECTOR_LEAD_TWICE'
      throw err
    }
    this.#lead = {work, term: null, failure: null}
    if (this.current_leader) this.#startWork(this.term)
    return this.#finished.then(async () => {
      // The engine stops waiting after stop_timeout_ms; the work may still run.
      await this.#lead.term?.settled
      if (this.#lead.failure) throw this.#lead.failure
    })
  }

  #startWork(term) {
    const lead = this.#lead
    if (!lead || lead.term) return
    const controller = new AbortController()
    const elector = this
    const leadership = {
      signal: controller.signal
    , term
      // Read against the renew deadline too: true at once after a pause,
      // before the lost event is delivered.
    , get lost() { return controller.signal.aborted || !elector.current_leader }
    }
    const settled = (async () => lead.work(leadership))().then(
      () => {}
    , (err) => {
        if (lead.failure) return
        lead.failure = err
        this.log.error({err}, 'leader work failed: stopping the elector')
        this.stop()
      }
    )
    lead.term = {controller, settled}
    settled.then(() => { if (lead.term?.settled === settled) lead.term = null })
  }

  /** Aborts the term's work; resolves once it has settled. */
  async #endWork(reason) {
    const term = this.#lead?.term
    if (!term) return
    const err = new Error(`leadership lost: ${reason}`)
    err.code = 'ERR_ELECTOR_LEADERSHIP_LOST'
    err.reason = reason
    term.controller.abort(err)
    await term.settled
  }

  /**
   * Starts campaigning. Resolves once the engine runs, or with
   * wait_for_leadership once the election's outcome is known (this elector
   * or another leads).
   */
  async start() {
    if (this.#stopping) throw new Error('elector is stopped; create a new one to run again')
    if (this.#started) throw new Error('elector already started')
    this.#started = true
    if (this.#options.auto_close) autoClose(this, true)
    if (this.#local) {
      this.#leading = true
      this.#local_acquired = setImmediate(() => {
        this.#startWork(0)
        this.emit(EVENTS.LEADERSHIP_ACQUIRED, {lease: this.#lease_name, term: 0})
      })
      return
    }
    if (this.log !== silent) {
      installLogSink()
      loggers.set(this.#log_key, this.log)
    }
    let stopped
    this.#stopped_event = new Promise((resolve) => { stopped = resolve })
    const outcome = this.#options.wait_for_leadership ? this.#outcome() : null
    try {
      await this.#native.start((json) => this.#onEvent(JSON.parse(json), stopped))
    } catch (err) {
      // Nothing runs, but the event channel was opened: close it so the
      // process is not kept alive, then report the connection error.
      await this.#native.stop()
      await this.#stopped_event
      autoClose(this, false)
      throw err
    }
    if (outcome) await outcome
  }

  /**
   * Stops: if leading, emits leadership_lost, waits for its listeners to
   * return and lead()'s work to settle (renewing the lease meanwhile, for at
   * most stop_timeout_ms), then releases the lease so a standby takes over
   * at once. Resolves when no further event will be emitted. Idempotent.
   */
  stop() {
    if (!this.#stopping) this.#stopping = this.#stop()
    return this.#stopping
  }

  async #stop() {
    autoClose(this, false)
    clearImmediate(this.#local_acquired)
    if (this.#local) {
      if (this.#leading) {
        this.#leading = false
        try {
          this.emit(EVENTS.LEADERSHIP_LOST, {lease: this.#lease_name, reason: 'stopped'})
        } finally {
          await this.#endWork('stopped')
        }
      }
      this.#finish()
      return
    }
    if (!this.#started) {
      this.#finish()
      return
    }
    await this.#native.stop()
    await this.#stopped_event
    if (loggers.get(this.#log_key) === this.log) loggers.delete(this.#log_key)
  }

  #outcome() {
    return new Promise((resolve) => {
      const done = () => {
        this.off(EVENTS.LEADER_CHANGED, onChange)
        this.off(EVENTS.LEADERSHIP_ACQUIRED, done)
        resolve()
      }
      const onChange = ({leader}) => { if (leader) done() }
      // prepend: a user's listener that throws cannot keep start() pending.
      this.prependListener(EVENTS.LEADER_CHANGED, onChange)
      this.prependListener(EVENTS.LEADERSHIP_ACQUIRED, done)
      this.#stopped_event.then(done)
    })
  }

  #onEvent(event, stopped) {
    const lease = this.#lease_name
    switch (event.kind) {
      case 'acquired':
        this.#leading = true
        this.#startWork(event.term)
        this.emit(EVENTS.LEADERSHIP_ACQUIRED, {lease, term: event.term})
        break
      case 'renewed':
        this.emit(EVENTS.LEASE_RENEWED, {lease, renew_time: event.renew_time})
        break
      case 'lost':
        this.#leading = false
        // The engine releases the lease, or campaigns again, only once the
        // listeners have returned and lead()'s work has settled.
        try {
          this.emit(EVENTS.LEADERSHIP_LOST, {lease, reason: event.reason, holder: event.holder ?? null})
        } finally {
          this.#endWork(event.reason).then(() => this.#native.acknowledgeLost())
        }
        break
      case 'leader_changed':
        this.emit(EVENTS.LEADER_CHANGED, {lease, leader: event.leader ?? null})
        break
      case 'error': {
        if (this.listenerCount(EVENTS.ERROR) > 0) {
          const err = new Error(event.message)
          err.kind = event.error_kind
          this.emit(EVENTS.ERROR, err)
        }
        break
      }
      case 'stopped':
        stopped()
        this.#finish()
        break
    }
  }
}

/** `log` with trace and fatal mapped to debug and error where it lacks them. */
function withAllLevels(log) {
  const wrapped = Object.create(log)
  wrapped.trace = typeof log.trace === 'function' ? log.trace.bind(log) : log.debug.bind(log)
  wrapped.fatal = typeof log.fatal === 'function' ? log.fatal.bind(log) : log.error.bind(log)
  return wrapped
}

function readOnly(name) {
  throw new TypeError(`Cannot assign to read only property '${name}' of Elector`)
}

/** A configuration error from the engine, naming the option. */
/** The engine's configuration error, already naming the package's option. */
function configError(err) {
  let parsed
  try {
    parsed = JSON.parse(err.message)
  } catch {
    return err
  }
  return invalidValue(parsed.option, parsed.rule)
}

/**
 * The Prometheus text exposition of every running elector of the process, with
 * client-go's names (leader_election_master_status,
 * leader_election_slowpath_total) and the engine's counters as
 * elector_<name>_total. Serve it as it is; with prom-client, use
 * registerMetrics instead.
 */
function metrics() {
  return native.metrics()
}

/**
 * Registers the process's elector metrics in a prom-client registry (such
 * as `require('prom-client').register`), so that `registry.metrics()`
 * includes them. Each is read from the engine when the registry collects,
 * without prom-client being a dependency of this package.
 */
function registerMetrics(registry) {
  const families = () => JSON.parse(native.metricFamilies())
  for (const {name, help, type} of families()) {
    registry.registerMetric({
      name
    , help
    , type
    , aggregator: 'sum'
    , get: async () => families().find((family) => family.name === name)
    , reset() {}
    })
  }
}

module.exports = {Elector, EVENTS, metrics, registerMetrics}
