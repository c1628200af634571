'use strict'

// `npm install`: nothing to build where the prebuilt package for this
// platform was installed. Otherwise the addon is built from the bundled
// sources (or, in the repository, the workspace's) when cargo is present;
// without cargo, installing succeeds and `require` fails with the message
// printed here, which names the platform and what to do.

const native = require('../lib/native.js')

if (native.prebuilt()) process.exit(0)
if (native.cargoAvailable()) {
  native.build()
} else {
  console.warn(native.noAddonError().message)
}
