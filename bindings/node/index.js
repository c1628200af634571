'use strict'

module.exports = require('./lib/elector.js')
