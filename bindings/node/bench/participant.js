'use strict'

// The Node.js participants of the benchmarks and the chaos suite (tests/bench,
// tests/chaos): `count` electors in one process, of ours or of the original
// package (@codedependant/kubernetes-leader-election 1.0.1):
//
//   node bench/participant.js ours|original LEASE IDENTITY [COUNT] [--distinct-leases] [--work lead|idiom]
//
// Ours runs with client-go's timings (15 s / 10 s / 2 s); the original with
// its defaults. Every event is one line on stdout, in the format all
// participants share:
//
//   <CLOCK_MONOTONIC ns> <elector index> <event> [detail]
//
// with the events started, acquired, lost and stopped. SIGTERM stops every
// elector (ours and the original both release a held lease) and exits.
//
// --work does leader work: units of up to 10 ms of CPU and an await of up to
// 100 ms, printed as unit_begin and unit_end. `lead` (ours) runs them
// through lead(); `idiom` runs them in the original package's idiom: check
// current_leader, then run a unit.
const [impl, lease, identity, count = '1', ...flags] = process.argv.slice(2)
const work = flags.includes('--work') ? flags[flags.indexOf('--work') + 1] : null
if (!['ours', 'original'].includes(impl) || !lease || !identity || ![null, 'lead', 'idiom'].includes(work)
  || (impl === 'original' && work === 'lead')) {
  process.stderr.write('usage: node bench/participant.js ours|original LEASE IDENTITY [COUNT] [--distinct-leases] [--work lead|idiom]\n')
  process.exit(2)
}
const {Elector, EVENTS} = require(impl === 'original' ? '@codedependant/kubernetes-leader-election' : '..')
const TIMINGS = impl === 'ours' ? {lease_duration_sec: 15, renew_deadline_ms: 10000, renew_interval_ms: 2000} : {}

// process.hrtime reads CLOCK_MONOTONIC on Linux, the clock every participant shares.
const print = (index, event, detail = '') => process.stdout.write(`${process.hrtime.bigint()} ${index} ${event} ${detail}\n`)

const UNIT_CPU_MS = 10
const UNIT_AWAIT_MS = 100
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** One unit of leader work, stamped as it begins and ends. */
async function unit(index, term) {
  print(index, 'unit_begin', term === undefined || term === null ? '' : `term=${term}`)
  const busy_until = performance.now() + Math.random() * UNIT_CPU_MS
  while (performance.now() < busy_until);
  await sleep(Math.random() * UNIT_AWAIT_MS)
  print(index, 'unit_end')
}

const n = Number(count)
const electors = Array.from({length: n}, (_, index) => {
  const elector = new Elector({
    lease_name: flags.includes('--distinct-leases') ? `${lease}-${index}` : lease
  , identity: n > 1 ? `${identity}-${index}` : identity
  , auto_close: false
  , ...TIMINGS
  })
  // The original emits acquired again when its own watch shows its write:
  // print changes of state only.
  let leading = false
  elector.on(EVENTS.LEADERSHIP_ACQUIRED, ({term}) => {
    if (!leading) print(index, 'acquired', term === undefined ? '' : `term=${term}`)
    leading = true
  })
  elector.on(EVENTS.LEADERSHIP_LOST, ({reason}) => {
    if (leading) print(index, 'lost', reason === undefined ? '' : `reason=${reason}`)
    leading = false
  })
  elector.stopped = async () => {
    // The original's stop() releases without a leadership_lost event: its
    // leader stops working when stop() is called, before the release.
    if (impl === 'original' && leading) print(index, 'lost', 'reason=stopped')
    if (impl === 'original') leading = false
    await elector.stop()
    print(index, 'stopped')
  }
  if (work === 'lead') {
    elector.lead(async (leadership) => {
      while (!leadership.lost) await unit(index, leadership.term)
    })
  } else if (work === 'idiom') {
    (async () => {
      for (;;) {
        if (elector.current_leader) await unit(index, elector.term)
        else await sleep(5)
      }
    })()
  }
  return elector
})

for (const [index, elector] of electors.entries()) {
  print(index, 'started')
  elector.start()
}

process.once('SIGTERM', async () => {
  await Promise.all(electors.map((e) => e.stopped()))
  process.exit(0)
})
