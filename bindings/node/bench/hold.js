'use strict'

// One elector with the package defaults, for footprint.js: `node hold.js ours|original`.
const impl = process.argv[2]
const {Elector, EVENTS} = require(impl === 'original' ? '@codedependant/kubernetes-leader-election' : '..')

const elector = new Elector({lease_name: process.env.LEASE, identity: process.env.IDENTITY, auto_close: false})
elector.on(EVENTS.LEADERSHIP_ACQUIRED, () => console.log('acquired'))
elector.start().then(() => console.log('started'))
