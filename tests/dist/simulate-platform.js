'use strict'

// Preloaded with `node -r` by tests/dist/run: makes this process look like a
// platform that has no prebuilt package, as the loader sees it.
//   ELECTOR_SIMULATE=riscv64  another CPU (process.arch)
//   ELECTOR_SIMULATE=musl     a musl libc (no glibc version in the report)
const simulate = process.env.ELECTOR_SIMULATE
if (simulate === 'riscv64') {
  Object.defineProperty(process, 'arch', {value: 'riscv64'})
} else if (simulate === 'musl') {
  const getReport = process.report.getReport.bind(process.report)
  process.report.getReport = (...args) => {
    const report = getReport(...args)
    delete report.header.glibcVersionRuntime
    return report
  }
} else {
  throw new Error(`ELECTOR_SIMULATE must be riscv64 or musl; received ${JSON.stringify(simulate)}`)
}
