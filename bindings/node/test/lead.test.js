'use strict'

// lead(): leader work that runs while leading, and a handover that waits
// for it. Against the local control plane (see helpers.js).

const test = require('node:test')
const assert = require('node:assert/strict')
const {Elector, EVENTS} = require('..')
const {FAST, uniqueLease, within, nextEvent, candidate} = require('./helpers.js')

/** A lease far longer than any handover here: one within it was a release. */
const LONG = {...FAST, renew_interval_ms: 500, lease_duration_sec: 30, renew_deadline_ms: 15000}

function worker(lease, identity, units, unit_ms = 200) {
  const elector = new Elector({...LONG, lease_name: lease, identity})
  const led = elector.lead(async ({signal, term}) => {
    assert.equal(typeof term, 'number')
    while (!signal.aborted) {
      const begin = performance.now()
      await new Promise((resolve) => setTimeout(resolve, unit_ms))
      units.push({identity, begin, end: performance.now()})
    }
  })
  return {elector, led}
}

async function until(ms, what, description) {
  await within(ms, (async () => {
    while (!what()) await new Promise((resolve) => setTimeout(resolve, 10))
  })(), description)
}

test('a graceful handover waits for the unit of work in flight', async () => {
  const lease = uniqueLease('node-lead')
  const units = []
  const a = worker(lease, 'lead-a', units)
  const b = worker(lease, 'lead-b', units)
  await a.elector.start()
  await until(10000, () => units.some((u) => u.identity === 'lead-a'), 'a unit from a')
  await b.elector.start()
  await until(10000, () => b.elector.leader === 'lead-a', 'b following a')
  await new Promise((resolve) => setTimeout(resolve, 100)) // a is mid-unit
  await a.elector.stop()
  await a.led
  const a_end = Math.max(...units.filter((u) => u.identity === 'lead-a').map((u) => u.end))
  await until(10000, () => units.some((u) => u.identity === 'lead-b'), 'a unit from b')
  await b.elector.stop()
  await b.led
  const b_first = Math.min(...units.filter((u) => u.identity === 'lead-b').map((u) => u.begin))
  assert.ok(a_end <= b_first, `b began a unit at ${b_first}, before a's work ended at ${a_end}`)
  assert.ok(b_first - a_end < 10000, 'the lease expired instead of being released')
})

test('SIGTERM with auto_close: the new leader starts only after the old one\'s last unit', async () => {
  const lease = uniqueLease('node-lead-term')
  const env = {...LONG, auto_close: true}
  const rounds = 3
  const all = []
  let standby = candidate(lease, 'term-0', env, 'lead-worker.js')
  await standby.waitFor('acquired')
  for (let round = 1; round <= rounds; round++) {
    const leader = standby
    standby = candidate(lease, `term-${round}`, env, 'lead-worker.js')
    await standby.waitFor('leader_changed')
    await leader.waitFor('unit')
    leader.kill('SIGTERM')
    const [, signal] = await within(20000, leader.exited, 'exit after SIGTERM')
    assert.equal(signal, 'SIGTERM')
    await standby.waitFor('acquired', 10000)
    await standby.waitFor('unit', 10000)
    all.push(leader)
  }
  standby.kill('SIGTERM')
  await standby.exited
  all.push(standby)
  const units = all.flatMap((p, i) => p.events.filter((e) => e.kind === 'unit').map((u) => ({...u, process: i})))
  units.sort((x, y) => x.begin - y.begin)
  for (let i = 1; i < units.length; i++) {
    const [prev, next] = [units[i - 1], units[i]]
    if (prev.process !== next.process) {
      assert.ok(prev.end <= next.begin, `process ${next.process} began a unit ${prev.end - next.begin} µs before process ${prev.process}'s ended`)
    }
  }
})

test('work that throws stops the elector, and lead() rejects with its error', async () => {
  const elector = new Elector({...FAST, lease_name: uniqueLease('node-lead-fail'), identity: 'fail-a'})
  const failure = new Error('leader work failed')
  const led = elector.lead(async () => { throw failure })
  const lost = nextEvent(elector, EVENTS.LEADERSHIP_LOST)
  await elector.start()
  await assert.rejects(within(10000, led, 'lead() settling'), (err) => err === failure)
  assert.equal((await lost).reason, 'stopped')
  assert.equal(elector.current_leader, false)
})

test('lead() after start() runs the work for the term in progress', async () => {
  const elector = new Elector({...FAST, lease_name: uniqueLease('node-lead-late'), identity: 'late-a'})
  await elector.start()
  await nextEvent(elector, EVENTS.LEADERSHIP_ACQUIRED)
  let aborted = null
  const led = elector.lead(({signal}) => new Promise((resolve) => {
    signal.addEventListener('abort', () => {
      aborted = signal.reason
      resolve()
    })
  }))
  await elector.stop()
  await led
  assert.equal(aborted.code, 'ERR_ELECTOR_LEADERSHIP_LOST')
  assert.equal(aborted.reason, 'stopped')
})

test('lead() checks its argument and is registered once', () => {
  const elector = new Elector({...FAST, lease_name: uniqueLease('node-lead-args')})
  assert.throws(() => elector.lead('work'), {code: 'ERR_INVALID_ARG_TYPE'})
  elector.lead(async () => {})
  assert.throws(() => elector.lead(async () => {}), {code: 'ERR_ELECTOR_LEAD_TWICE'})
  assert.throws(() => new Elector({...FAST, stop_timeout_ms: 0}), (err) => err.code === 'ERR_INVALID_ARG_VALUE' && /stop_timeout_ms/.test(err.message))
})
