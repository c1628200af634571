'use strict'

// Shared by the tests: fresh lease names, event waits with timeouts, and
// child processes running one elector each. The tests need the local
// control plane: tests/node/run sets KUBECONFIG and KUBERNETES_SERVICE_HOST.

const {spawn} = require('node:child_process')
const path = require('node:path')
const readline = require('node:readline')
const {once} = require('node:events')

const FAST = {renew_interval_ms: 500, lease_duration_sec: 3, auto_close: false}

function uniqueLease(prefix) {
  return `${prefix}-${process.pid}-${Math.floor(Math.random() * 1e6)}`
}

async function within(ms, promise, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function nextEvent(emitter, name, ms = 10000) {
  return within(ms, once(emitter, name).then(([payload]) => payload), name)
}

/** A child process running test/fixtures/<script>; its events as lines. */
function candidate(lease, identity, options = {}, script = 'candidate.js') {
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', script)], {
    env: {...process.env, LEASE: lease, IDENTITY: identity, OPTIONS: JSON.stringify(options)}
  , stdio: ['ignore', 'pipe', 'inherit']
  })
  const lines = readline.createInterface({input: child.stdout})
  const events = []
  const waiters = []
  lines.on('line', (line) => {
    const event = {...JSON.parse(line), at: performance.now()}
    events.push(event)
    for (const waiter of waiters.splice(0)) waiter()
  })
  child.waitFor = (kind, ms = 10000) => within(ms, new Promise((resolve) => {
    const check = () => {
      const found = events.find((e) => e.kind === kind && !e.seen)
      if (found) {
        found.seen = true
        return resolve(found)
      }
      waiters.push(check)
    }
    check()
  }), `${kind} from ${identity}`)
  child.events = events
  child.exited = once(child, 'exit')
  return child
}

module.exports = {FAST, uniqueLease, within, nextEvent, candidate}
