// Type-checked by `npm run typecheck` (tsc --strict), never run: the
// declarations in index.d.ts must accept what the README shows and refuse
// what the package refuses.
import {Elector, EVENTS, metrics, registerMetrics, type ElectorOptions, type LostEvent, type Leadership} from '../../index.js'

const options: ElectorOptions = {
  lease_name: 'my-app'
, namespace: 'default'
, identity: 'pod-a'
, renew_interval_ms: 2000
, lease_duration_sec: 15
, renew_deadline_ms: 10000
, labels: {app: 'my-app'}
, owner_reference: {apiVersion: 'v1', kind: 'Pod', name: 'pod-a', uid: 'u', controller: true}
, kubeconfig: '/etc/kubeconfig'
, context: 'elector'
, auto_close: false
}

async function main(): Promise<void> {
  const elector = new Elector(options)
  elector.on(EVENTS.LEADERSHIP_ACQUIRED, ({lease, term}) => console.log(lease, term.toFixed()))
  elector.on(EVENTS.LEADERSHIP_LOST, (event: LostEvent) => console.log(event.reason, event.holder))
  await elector.start()
  const leading: boolean = elector.current_leader
  const leader: string | null = elector.leader
  const counters: Record<string, number> = elector.stats()
  elector.check(1000)
  const text: string = metrics() + elector.metrics()
  registerMetrics({registerMetric: (metric: unknown) => console.log(metric)})
  await elector.lead(async ({signal, term}: Leadership) => {
    if (!signal.aborted) console.log(term, leading, leader, counters, text)
  })
  await elector.stop()
}

// @ts-expect-error labels are strings
new Elector({labels: {replicas: 3}})
// @ts-expect-error an ownerReference needs a uid
new Elector({owner_reference: {apiVersion: 'v1', kind: 'Pod', name: 'p'}})
// @ts-expect-error renew_interval_ms is a number
new Elector({renew_interval_ms: 'soon'})
// @ts-expect-error current_leader is read-only
new Elector().current_leader = true

void main
