import {EventEmitter} from 'node:events'

/** Events an elector emits. */
export declare const EVENTS: Readonly<{
  LEADERSHIP_ACQUIRED: 'leadership_acquired'
  LEADERSHIP_LOST: 'leadership_lost'
  LEASE_RENEWED: 'lease_renewed'
  LEADER_CHANGED: 'leader_changed'
  ERROR: 'error'
}>

/** The abstract-logging interface (pino works). */
export interface Logger {
  trace(...args: unknown[]): void
  debug(...args: unknown[]): void
  info(...args: unknown[]): void
  warn(...args: unknown[]): void
  error(...args: unknown[]): void
  fatal(...args: unknown[]): void
  child?(bindings: Record<string, unknown>): Logger
}

export interface ElectorOptions {
  /** Stop on SIGINT/SIGTERM (the signal then exits as it would have). Default true. */
  auto_close?: boolean
  /** Unique among the candidates. Default `elector-<hostname>-<pid>`. */
  identity?: string
  /** Lease duration in whole seconds. Default 20. */
  lease_duration_sec?: number
  /** Default `nodejs-leader-election`. */
  lease_name?: string
  log?: Logger
  /** Default `default`. */
  namespace?: string
  /** How often the leader renews, in milliseconds. Default 10000. */
  renew_interval_ms?: number
  /**
   * How long the leader keeps trying to renew before it steps down, in
   * milliseconds; must lie between 1.2 x renew_interval_ms and the lease
   * duration. Default: halfway between them.
   */
  renew_deadline_ms?: number
  /** start() resolves once the election's outcome is known. Default false. */
  wait_for_leadership?: boolean
  /** stop() releases the lease so a standby takes over at once. Default true. */
  release_on_stop?: boolean
  /** How long stop() may spend releasing the lease (default 5000); after it the lease is left to expire. */
  release_timeout_ms?: number
  /**
   * How long stop() keeps the lease, renewing it, while leadership_lost's
   * listeners and lead()'s work finish (default 10000); after it the lease is
   * not released but left to expire.
   */
  stop_timeout_ms?: number
  /**
   * A kubeconfig file; default KUBECONFIG, then the in-cluster service
   * account. Naming one means a cluster even without KUBERNETES_SERVICE_HOST.
   */
  kubeconfig?: string
  /** The kubeconfig context; default its current context. */
  context?: string
  /** Labels written on the lease when this elector creates or takes it over. */
  labels?: Record<string, string>
  /** An owner for the lease (usually this Pod), so it is garbage-collected with it. */
  owner_reference?: OwnerReference
  /**
   * The API server's URL, to connect without a kubeconfig (not with
   * `kubeconfig` or `context`). Naming one means a cluster even without
   * KUBERNETES_SERVICE_HOST.
   */
  url?: string
  /** A bearer token for `url` (not with `token_file`). */
  token?: string
  /** A file holding a bearer token for `url`, re-read as it rotates. */
  token_file?: string
  /** The PEM file of the CA that signs `url`'s certificate; default the platform's roots. */
  ca_file?: string
  /** Accept any certificate from `url`: for development clusters only. Default false. */
  insecure_skip_tls_verify?: boolean
}

/** A Kubernetes ownerReference. */
export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

/** What lead()'s work is given for one term. */
export interface Leadership {
  /** Aborted when the term ends; its reason has code ERR_ELECTOR_LEADERSHIP_LOST. */
  signal: AbortSignal
  /** The lease's leaseTransitions for this term: a fencing token. */
  term: number
  /** Whether the term has ended; read against the renew deadline too, so true at once after a pause. */
  readonly lost: boolean
}

export interface AcquiredEvent { lease: string; term: number }
export interface RenewedEvent { lease: string; renew_time: string }
export interface LostEvent {
  lease: string
  reason: 'stopped' | 'renew_deadline_exceeded' | 'taken_over' | 'deleted'
  holder: string | null
}
export interface LeaderChangedEvent { lease: string; leader: string | null }
export interface ElectorError extends Error {
  kind: 'unauthorized' | 'forbidden' | 'timeout' | 'unavailable' | 'invalid' | 'identity_conflict'
}

export declare class Elector extends EventEmitter {
  constructor(options?: ElectorOptions)
  static readonly EVENTS: typeof EVENTS
  readonly EVENTS: typeof EVENTS
  /** Whether this elector leads now. */
  readonly current_leader: boolean
  readonly lease_name: string
  readonly identity: string
  readonly namespace: string
  /** The observed leader's identity, or null. */
  readonly leader: string | null
  /** The lease's leaseTransitions: the leader's fencing token. */
  readonly term: number | null
  log: Logger
  start(): Promise<void>
  stop(): Promise<void>
  /**
   * Runs `work` while this elector leads, once per term; the loss is
   * acknowledged (and on stop the lease released) only once its promise has
   * settled. Settles when the elector stops: rejected with the work's first
   * error (which stops the elector), else resolved.
   */
  lead(work: (leadership: Leadership) => unknown | Promise<unknown>): Promise<void>
  /** The lease as last observed, in Kubernetes JSON shape. */
  getLease(): Record<string, unknown> | null
  stats(): Record<string, number>
  /**
   * client-go's health check: throws (code ERR_ELECTOR_UNHEALTHY) when this
   * elector believes it leads but has not renewed for longer than the lease
   * duration plus tolerance_ms (default 0).
   */
  check(tolerance_ms?: number): void
  /** The Prometheus text exposition of every running elector of the process (see metrics()). */
  metrics(): string

  on(event: 'leadership_acquired', listener: (event: AcquiredEvent) => void): this
  on(event: 'lease_renewed', listener: (event: RenewedEvent) => void): this
  on(event: 'leadership_lost', listener: (event: LostEvent) => void): this
  on(event: 'leader_changed', listener: (event: LeaderChangedEvent) => void): this
  on(event: 'error', listener: (error: ElectorError) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
}

/**
 * The Prometheus text exposition of every running elector of the process, with
 * client-go's names (leader_election_master_status,
 * leader_election_slowpath_total) and the engine's counters.
 */
export declare function metrics(): string

/**
 * Registers the process's elector metrics in a prom-client registry (such
 * as `require('prom-client').register`), read from the engine when the
 * registry collects.
 */
export declare function registerMetrics(registry: {registerMetric(metric: unknown): void}): void
