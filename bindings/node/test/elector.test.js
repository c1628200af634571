'use strict'

const assert = require('node:assert/strict')
const {test} = require('node:test')
const {spawn} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const {once} = require('node:events')
const {setTimeout: sleep} = require('node:timers/promises')
const {Elector, EVENTS, metrics, registerMetrics} = require('..')
const {FAST, uniqueLease, within, nextEvent, candidate} = require('./helpers.js')
const native = require('../lib/native.js').load()

test('the README example of the original package runs unchanged but for the name', async () => {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'readme-example.js')], {
    env: {...process.env, POD_NAME: uniqueLease('readme')}
  , stdio: ['ignore', 'pipe', 'inherit']
  })
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  await within(15000, (async () => {
    while (!output.includes('Important work has been done')) await sleep(50)
  })(), 'leadership in the README example')
  child.kill('SIGTERM')
  // onSignal stops the elector; nothing else keeps the process alive.
  const [code] = await within(10000, once(child, 'exit'), 'exit after SIGTERM')
  assert.equal(code, 0)
  assert.match(output, /I'm not the leader. Nothing to do/) // the lost handler ran
})

test('two electors in one process: one leads, and hands over on stop', async () => {
  const lease_name = uniqueLease('node-two')
  const a = new Elector({...FAST, lease_name, identity: 'a'})
  const b = new Elector({...FAST, lease_name, identity: 'b'})
  const acquired = nextEvent(a, EVENTS.LEADERSHIP_ACQUIRED)
  await a.start()
  assert.deepEqual(await acquired, {lease: lease_name, term: 0})
  assert.equal(a.current_leader, true)
  await b.start()
  const changed = await nextEvent(b, EVENTS.LEADER_CHANGED)
  assert.equal(changed.leader, 'a')
  assert.equal(b.current_leader, false)
  assert.equal(b.leader, 'a')
  assert.equal(a.getLease().spec.holderIdentity, 'a')
  assert.equal(a.getLease().spec.leaseDurationSeconds, 3)

  const lost = nextEvent(a, EVENTS.LEADERSHIP_LOST)
  const b_acquired = nextEvent(b, EVENTS.LEADERSHIP_ACQUIRED)
  const stopped_at = performance.now()
  await a.stop()
  assert.deepEqual(await lost, {lease: lease_name, reason: 'stopped', holder: null})
  const {term} = await b_acquired
  const handover = performance.now() - stopped_at
  assert.ok(handover < 2500, `handover took ${handover} ms: it waited for expiry, not the release`)
  assert.equal(term, 1)
  assert.equal(b.term, 1)
  assert.equal(a.current_leader, false)
  await b.stop()
})

test('metrics: client-go\'s master status, 1 for the leader and 0 for the standby', async () => {
  const lease_name = uniqueLease('node-metrics')
  const a = new Elector({...FAST, lease_name, identity: 'a'})
  const b = new Elector({...FAST, lease_name, identity: 'b'})
  const acquired = nextEvent(a, EVENTS.LEADERSHIP_ACQUIRED)
  await a.start()
  await acquired
  const changed = nextEvent(b, EVENTS.LEADER_CHANGED)
  await b.start()
  await changed
  const series = (identity) => `leader_election_master_status{name="${lease_name}",namespace="default",identity="${identity}"}`
  // Two reads, the module's and the elector's: each a whole exposition.
  for (const text of [metrics(), a.metrics()]) {
    assert.ok(text.includes(`${series('a')} 1\n`), text)
    assert.ok(text.includes(`${series('b')} 0\n`), text)
    assert.match(text, /^# TYPE leader_election_slowpath_total counter$/m)
  }
  await a.stop()
  assert.ok(!metrics().includes(series('a')), 'a stopped elector is not exported')
  await b.stop()
})

test('metrics reach a prom-client registry', async () => {
  const client = require('prom-client')
  const registry = new client.Registry()
  registerMetrics(registry)
  const lease_name = uniqueLease('node-prom')
  const a = new Elector({...FAST, lease_name, identity: 'a'})
  const acquired = nextEvent(a, EVENTS.LEADERSHIP_ACQUIRED)
  await a.start()
  await acquired
  const text = await registry.metrics()
  // prom-client orders the labels by name.
  assert.ok(text.includes(`leader_election_master_status{identity="a",name="${lease_name}",namespace="default"} 1\n`), text)
  const json = await registry.getMetricsAsJSON()
  assert.ok(json.some((family) => family.name === 'elector_renewals_total' && family.type === 'counter'))
  await a.stop()
})

test('labels and the owner are written on the lease; the health check passes while renewing', async () => {
  const lease_name = uniqueLease('node-labels')
  const owner_reference = {apiVersion: 'v1', kind: 'Pod', name: 'pod-a', uid: '0b1c2d3e-0000-4000-8000-000000000001', controller: true}
  const a = new Elector({...FAST, lease_name, identity: 'a', labels: {app: 'node-test'}, owner_reference})
  const acquired = nextEvent(a, EVENTS.LEADERSHIP_ACQUIRED)
  await a.start()
  await acquired
  const {metadata} = a.getLease()
  assert.equal(metadata.labels.app, 'node-test')
  assert.deepEqual(metadata.ownerReferences, [owner_reference])
  a.check()
  a.check(1000)
  assert.throws(() => a.check('soon'), TypeError)
  assert.throws(() => a.check(-1), RangeError)
  await a.stop()
})

test('wait_for_leadership resolves start() once the outcome is known', async () => {
  const lease_name = uniqueLease('node-wait')
  const a = new Elector({...FAST, lease_name, identity: 'a', wait_for_leadership: true})
  await a.start()
  assert.equal(a.current_leader, true)
  const b = new Elector({...FAST, lease_name, identity: 'b', wait_for_leadership: true})
  await b.start()
  assert.equal(b.leader, 'a')
  await Promise.all([a.stop(), b.stop()])
})

test('no event is emitted after stop() resolves', async () => {
  const a = new Elector({...FAST, lease_name: uniqueLease('node-quiet'), identity: 'a'})
  const seen = []
  for (const name of Object.values(EVENTS)) a.on(name, () => seen.push(name))
  await a.start()
  await nextEvent(a, EVENTS.LEASE_RENEWED)
  await a.stop()
  const at_stop = seen.length
  assert.equal(seen.at(-1), EVENTS.LEADER_CHANGED) // the lease is free after release
  assert.ok(seen.includes(EVENTS.LEADERSHIP_LOST))
  await sleep(1500)
  assert.equal(seen.length, at_stop)
})

test('properties are read-only', () => {
  const a = new Elector({...FAST, lease_name: uniqueLease('node-ro'), identity: 'a'})
  for (const name of ['current_leader', 'lease_name', 'identity', 'namespace', 'leader', 'term']) {
    assert.throws(() => { a[name] = 'x' }, TypeError, name)
  }
  assert.equal(Elector.EVENTS, EVENTS)
  assert.equal(a.EVENTS, EVENTS)
  assert.equal(a.namespace, 'default')
})

test('invalid options throw, naming the option', () => {
  const cases = [
    [{lease_name: 42}, TypeError, /"lease_name" option must be a string/]
  , [{identity: ''}, RangeError, /"identity" .*must not be empty/]
  , [{namespace: 'Not_A_Label'}, RangeError, /"namespace" .*DNS label/]
  , [{lease_name: '-bad'}, RangeError, /"lease_name" .*DNS subdomain/]
  , [{renew_interval_ms: 10000, lease_duration_sec: 12}, RangeError, /"lease_duration_sec" .*1.2 x renew_interval_ms/]
  , [{renew_interval_ms: 0}, RangeError, /"renew_interval_ms" .*at least 10ms/]
  , [{lease_duration_sec: 20.5}, RangeError, /"lease_duration_sec" .*whole number/]
  , [{renew_interval_ms: 2000, lease_duration_sec: 15, renew_deadline_ms: 2000}, RangeError, /"renew_deadline_ms" .*1.2/]
  , [{renew_interval_ms: 2000, lease_duration_sec: 15, renew_deadline_ms: 15000}, RangeError, /"lease_duration_sec" .*renew_deadline/]
  , [{renew_deadline_ms: 9.5}, RangeError, /"renew_deadline_ms" .*whole number/]
  , [{renew_interval_ms: 'soon'}, TypeError, /"renew_interval_ms" option must be a finite number/]
    // Numbers are checked in their own unit before any conversion: 2^32 + 15 s once wrapped to 15 s.
  , [{lease_duration_sec: 2 ** 32 + 15}, RangeError, /"lease_duration_sec" .*from 0 to 2147483647; received 4294967311/]
  , [{renew_interval_ms: 1e13}, RangeError, /"renew_interval_ms" .*received 10000000000000/]
  , [{renew_interval_ms: -5}, RangeError, /"renew_interval_ms" .*from 0/]
  , [{release_timeout_ms: 2.5}, RangeError, /"release_timeout_ms" .*whole number of milliseconds/]
  , [{stop_timeout_ms: 1e300}, RangeError, /"stop_timeout_ms" .*received 1e300$/]
  , [{identity: 'pod\0a'}, RangeError, /"identity" .*control character/]
  , [{lease_name: 'a'.repeat(300)}, RangeError, /"lease_name" .*DNS subdomain/]
  , [{labels: {'bad key': 'x'}}, RangeError, /"labels" .*label name/]
  , [{labels: {app: 1}}, TypeError, /"labels" option must be an object of string values/]
  , [{labels: new Map([['app', 'x']])}, TypeError, /"labels" option must be an object of string values/]
  , [{owner_reference: {apiVersion: 'v1', kind: 'Pod', name: 'p', uid: ''}}, RangeError, /"owner_reference.uid" .*must not be empty/]
  , [{owner_reference: {apiVersion: 'v1', kind: 'Pod', name: 'p'}}, TypeError, /"owner_reference" option must be an ownerReference/]
  , [{kubeconfig: 5}, TypeError, /"kubeconfig" option must be a string/]
  , [{context: ''}, RangeError, /"context" .*must not be empty/]
  , [{auto_close: 'yes'}, TypeError, /"auto_close"/]
  , [{log: {info() {}}}, TypeError, /"log" option must be a logger with debug, info, warn and error/]
  , [{release_on_stop: 'yes'}, TypeError, /"release_on_stop" option must be a boolean/]
  , [{owner_reference: {apiVersion: '', kind: 'Pod', name: 'p', uid: 'u'}}, RangeError, /"owner_reference.apiVersion" .*must not be empty/]
  , [{owner_reference: {apiVersion: 'v1', kind: '', name: 'p', uid: 'u'}}, RangeError, /"owner_reference.kind" .*must not be empty/]
  , [{owner_reference: {apiVersion: 'v1', kind: 'Pod', name: '', uid: 'u'}}, RangeError, /"owner_reference.name" .*must not be empty/]
  , [{kubeconfig: ''}, RangeError, /"kubeconfig" .*must not be empty/]
  , [{url: 'ftp://host'}, RangeError, /"url" .*absolute http\(s\) URL/]
  , [{url: 'https://k', kubeconfig: '/k'}, RangeError, /"kubeconfig" .*a kubeconfig or a url, not both/]
  , [{token: 't'}, RangeError, /"token" .*no url is given/]
  , [{url: 'https://k', token: ' '}, RangeError, /"token" .*must not be empty/]
  , [{url: 'https://k', token: 't', token_file: '/t'}, RangeError, /"token_file" .*not both/]
  , [{token_file: 7}, TypeError, /"token_file" option must be a string/]
  , [{ca_file: '/ca'}, RangeError, /"ca_file" .*no url is given/]
  , [{insecure_skip_tls_verify: true}, RangeError, /"insecure_skip_tls_verify" .*no url is given/]
  , [{insecure_skip_tls_verify: 'yes'}, TypeError, /"insecure_skip_tls_verify" option must be a boolean/]
  ]
  const refused = new Set()
  for (const [options, type, message] of cases) {
    assert.throws(() => new Elector(options), (err) => {
      refused.add(/"([^"]+)" option/.exec(err.message)?.[1])
      return err instanceof type && message.test(err.message)
    }, JSON.stringify(options))
  }
  // Every option of the engine has a case here.
  for (const option of native.optionNames()) {
    assert.ok(refused.has(option), `no invalid case for the engine's option ${option}`)
  }
})

test('the package has every option of the engine, declared in index.d.ts', () => {
  const declared = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8')
  const options = /export interface ElectorOptions \{([\s\S]*?)\n\}/.exec(declared)[1]
  const names = native.optionNames()
  assert.ok(names.length > 0)
  for (const option of names) {
    const top = option.split('.')[0]
    assert.match(options, new RegExp(`^  ${top}\\?: `, 'm'), `${option} is not declared in ElectorOptions`)
  }
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
  for (const option of names) assert.ok(readme.includes(`\`${option}\``), `README.md does not document ${option}`)
})

test('options are checked the same out of a cluster (without KUBERNETES_SERVICE_HOST)', (t) => {
  const host = process.env.KUBERNETES_SERVICE_HOST
  t.after(() => { if (host === undefined) delete process.env.KUBERNETES_SERVICE_HOST; else process.env.KUBERNETES_SERVICE_HOST = host })
  delete process.env.KUBERNETES_SERVICE_HOST
  const cases = [
    [{lease_name: ''}, /"lease_name"/]
  , [{lease_name: 'UPPER'}, /"lease_name"/]
  , [{lease_name: 'bad/slash'}, /"lease_name"/]
  , [{namespace: 'Bad_NS'}, /"namespace"/]
  , [{identity: ''}, /"identity"/]
  , [{lease_duration_sec: 2 ** 32 + 15}, /"lease_duration_sec"/]
  ]
  for (const [options, message] of cases) {
    assert.throws(() => new Elector({...options, auto_close: false}), (err) => err instanceof RangeError && message.test(err.message), JSON.stringify(options))
  }
})

test('what the original accepted is still accepted', async () => {
  // Numbers from the environment, as strings.
  const a = new Elector({renew_interval_ms: '2000', lease_duration_sec: '10', auto_close: false})
  assert.equal(a.renew_interval_ms, 2000)
  // The lease defaults to 20 s, or twice the renew interval when longer.
  assert.equal(new Elector({renew_interval_ms: 30000, auto_close: false}).lease_duration_sec, 60)
  // Loggers without trace and fatal (winston).
  const lines = []
  const winston_like = {debug() {}, info() {}, warn() {}, error: (...args) => lines.push(args)}
  const b = new Elector({log: winston_like, auto_close: false})
  b.log.fatal('x')
  assert.equal(lines.length, 1)
  // stop() before start(): the elector cannot be started afterwards.
  await a.stop()
  await assert.rejects(a.start(), /stopped/)
})

test('the error event is emitted only when someone listens', async () => {
  const a = new Elector({...FAST, lease_name: uniqueLease('node-err'), identity: 'a', namespace: 'no-such-namespace'})
  const errors = []
  a.on(EVENTS.ERROR, (err) => errors.push(err))
  await a.start()
  await within(5000, (async () => { while (!errors.length) await sleep(20) })(), 'an error event')
  assert.equal(errors[0].kind, 'forbidden') // RBAC: elector has no rights there
  assert.match(errors[0].message, /no-such-namespace/)
  await a.stop()
  // Without a listener the same errors do not throw.
  const b = new Elector({...FAST, lease_name: uniqueLease('node-err'), identity: 'b', namespace: 'no-such-namespace'})
  await b.start()
  await sleep(1000)
  await b.stop()
})

test('two processes: one leads; the leader killed with SIGKILL is replaced after the lease duration', async () => {
  const lease = uniqueLease('node-procs')
  const a = candidate(lease, 'proc-a', FAST)
  await a.waitFor('acquired')
  const b = candidate(lease, 'proc-b', FAST)
  await b.waitFor('leader_changed')
  assert.equal(b.events.some((e) => e.kind === 'acquired'), false)
  const killed_at = performance.now()
  a.kill('SIGKILL')
  const acquired = await b.waitFor('acquired', 15000)
  const waited = acquired.at - killed_at
  // a renewed at most one renew interval before it died.
  assert.ok(waited >= 3000 - 500, `took over after ${waited} ms, before the lease expired`)
  b.kill('SIGTERM') // auto_close is off in FAST: SIGTERM's default action ends it
  await b.exited
})

test('auto_close stops on SIGTERM, releasing the lease, and the signal still ends the process', async () => {
  const lease = uniqueLease('node-auto')
  const a = candidate(lease, 'auto-a', {...FAST, auto_close: true})
  await a.waitFor('acquired')
  const b = candidate(lease, 'auto-b', FAST)
  await b.waitFor('leader_changed')
  const signalled = performance.now()
  a.kill('SIGTERM')
  await a.waitFor('lost')
  const [, signal] = await within(10000, a.exited, 'exit after SIGTERM')
  assert.equal(signal, 'SIGTERM')
  const acquired = await b.waitFor('acquired')
  assert.ok(acquired.at - signalled < 2500, 'b waited for expiry: a did not release')
  b.kill('SIGKILL')
  await b.exited
})

test('without KUBERNETES_SERVICE_HOST it leads without any API call', async () => {
  const child = spawn(process.execPath, ['-e', `
    const {Elector, EVENTS} = require(${JSON.stringify(path.join(__dirname, '..'))})
    const e = new Elector({lease_name: 'local', auto_close: false})
    e.on(EVENTS.LEADERSHIP_ACQUIRED, async (evt) => {
      console.log(JSON.stringify({evt, leader: e.current_leader}))
      await e.stop()
    })
    e.start()
  `], {env: {...process.env, KUBERNETES_SERVICE_HOST: '', KUBECONFIG: '/nonexistent'}, stdio: ['ignore', 'pipe', 'inherit']})
  let output = ''
  child.stdout.on('data', (chunk) => { output += chunk })
  const [code] = await within(10000, once(child, 'exit'), 'exit')
  assert.equal(code, 0)
  assert.deepEqual(JSON.parse(output), {evt: {lease: 'local', term: 0}, leader: true})
})

test('a mixed fleet with the original package never has two leaders, and ours takes over when it stops', async (t) => {
  const lease = uniqueLease('node-mixed')
  const original = candidate(lease, 'original', {lease_duration_sec: 3, renew_interval_ms: 1000}, 'original.js')
  // On a failed assertion too: a running elector or child keeps the runner alive.
  t.after(() => original.kill('SIGKILL'))
  await original.waitFor('acquired', 15000)
  const ours = new Elector({...FAST, lease_name: lease, identity: 'ours'})
  t.after(() => ours.stop())
  let ours_led_early = false
  const watcher = setInterval(() => { if (ours.current_leader) ours_led_early = true }, 20)
  await ours.start()
  await nextEvent(ours, EVENTS.LEADER_CHANGED)
  assert.equal(ours.leader, 'original')
  await sleep(4000) // longer than the lease: the original keeps renewing
  clearInterval(watcher)
  assert.equal(ours_led_early, false, 'ours led while the original held the lease')

  // Stop the original right after one of its renewals, well before its next:
  // its release (a GET, then a PUT) races its own renewal timer otherwise,
  // loses with a 409, and leaves the lease to expire.
  const version = ours.getLease().metadata.resourceVersion
  await within(3000, (async () => {
    while (ours.getLease().metadata.resourceVersion === version) await sleep(10)
  })(), 'a renewal by the original')
  const acquired = nextEvent(ours, EVENTS.LEADERSHIP_ACQUIRED, 10000)
  const stopped_at = performance.now()
  original.kill('SIGTERM')
  await original.waitFor('stopped')
  await acquired
  assert.ok(performance.now() - stopped_at < 3000, 'ours waited for expiry after the release')
  await original.exited
  await ours.stop()
})

test('the engine logs reach the log option at the matching levels', async () => {
  const lines = []
  const logger = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((level) => [
    level, (fields, message) => lines.push({level, fields, message})
  ]))
  logger.child = () => logger
  const lease_name = uniqueLease('node-log')
  const a = new Elector({...FAST, lease_name, identity: 'logged', log: logger})
  await a.start()
  await nextEvent(a, EVENTS.LEASE_RENEWED)
  await a.stop()
  await sleep(100)
  const acquired = lines.find((l) => l.message === 'acquired leadership')
  assert.ok(acquired, JSON.stringify(lines))
  assert.equal(acquired.level, 'info')
  assert.equal(acquired.fields.term, 0)
  assert.ok(lines.some((l) => l.level === 'debug' && l.message === 'renewed'))
  assert.ok(lines.some((l) => l.level === 'info' && /lost leadership/.test(l.message)))
  // Another elector's lines do not reach this logger.
  assert.ok(lines.every((l) => !/node-other/.test(JSON.stringify(l))))
})
