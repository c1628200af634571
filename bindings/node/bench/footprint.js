'use strict'

// Resident memory and idle CPU of a Node process holding one elector, ours
// against @codedependant/kubernetes-leader-election 1.0.1, measured in one
// run on the same control plane. Each runs a leader and a standby (two
// processes on one lease, the packages' default timings); after a warm-up,
// RSS and CPU time are read from /proc over the measuring window.
//
//   KUBECONFIG=... KUBERNETES_SERVICE_HOST=127.0.0.1 node bench/footprint.js [seconds] [out.md]

const {spawn} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const {setTimeout: sleep} = require('node:timers/promises')

const WINDOW_S = Number(process.argv[2] || 30)
const OUT = process.argv[3]
const WARMUP_S = 5
const CLK_TCK = 100

function cpuTicks(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(fields[11]) + Number(fields[12]) // utime + stime
}

function rssKiB(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))
  return Number(line.split(/\s+/)[1])
}

function hold(impl, lease, identity) {
  const child = spawn(process.execPath, [path.join(__dirname, 'hold.js'), impl], {
    env: {...process.env, LEASE: lease, IDENTITY: identity}
  , stdio: ['ignore', 'pipe', 'inherit']
  })
  child.output = ''
  child.stdout.on('data', (chunk) => { child.output += chunk })
  return child
}

async function until(predicate, seconds, what) {
  const deadline = Date.now() + seconds * 1000
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${seconds} s`)
    await sleep(50)
  }
}

async function measure(impl) {
  const lease = `footprint-${impl}-${process.pid}`
  const leader = hold(impl, lease, `${impl}-leader`)
  await until(() => leader.output.includes('acquired'), 30, `leadership for ${impl}`)
  const standby = hold(impl, lease, `${impl}-standby`)
  await until(() => standby.output.includes('started'), 30, `a standby for ${impl}`)
  await sleep(WARMUP_S * 1000)
  const before = {leader: cpuTicks(leader.pid), standby: cpuTicks(standby.pid)}
  await sleep(WINDOW_S * 1000)
  const result = {}
  for (const [role, child] of Object.entries({leader, standby})) {
    result[role] = {
      rss_mib: rssKiB(child.pid) / 1024
    , cpu_pct: ((cpuTicks(child.pid) - before[role]) / CLK_TCK / WINDOW_S) * 100
    }
  }
  leader.kill('SIGKILL')
  standby.kill('SIGKILL')
  return result
}

async function main() {
  const results = {}
  for (const impl of ['ours', 'original']) results[impl] = await measure(impl)
  const rows = [
    '| process | ours RSS (MiB) | original RSS (MiB) | RSS ratio | ours CPU (%) | original CPU (%) |'
  , '|---|---|---|---|---|---|'
  ]
  for (const role of ['leader', 'standby']) {
    const o = results.ours[role]
    const p = results.original[role]
    rows.push(`| ${role} | ${o.rss_mib.toFixed(1)} | ${p.rss_mib.toFixed(1)} | ${(o.rss_mib / p.rss_mib).toFixed(2)} | ${o.cpu_pct.toFixed(3)} | ${p.cpu_pct.toFixed(3)} |`)
  }
  const table = [
    `One Node ${process.version} process holding one elector, package defaults (renew 10 s, lease 20 s),`
  , `CPU over ${WINDOW_S} s after a ${WARMUP_S} s warm-up; RSS at the end.`
  , ''
  , ...rows
  ].join('\n')
  console.log(table)
  if (OUT) fs.writeFileSync(OUT, table + '\n')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
