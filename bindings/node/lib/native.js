'use strict'

// Finds the native addon, in napi-rs's layout: the prebuilt package for this
// platform (one of the root package's optionalDependencies, which npm
// installs only where its os, cpu and libc match), else an addon built from
// the bundled Rust sources into native/ (by `npm install` where no prebuilt
// package matches and cargo is present, or here on first load).

const fs = require('node:fs')
const path = require('node:path')
const {execFileSync} = require('node:child_process')

const PACKAGE_DIR = path.resolve(__dirname, '..')
const PACKAGE = require('../package.json')
const LOCAL_ADDON = path.join(PACKAGE_DIR, 'native', 'elector.node')

let musl = null

/** glibc or musl: a glibc Node reports the glibc it runs on, a musl one does not. */
function isMusl() {
  if (musl !== null) return musl
  const report = process.report
  if (!report || typeof report.getReport !== 'function') {
    try {
      musl = fs.readFileSync('/usr/bin/ldd', 'latin1').includes('musl')
    } catch {
      musl = false
    }
    return musl
  }
  // Without the network section where Node supports that (22.13 and later):
  // collecting it can take seconds in some sandboxes.
  const exclude_network = report.excludeNetwork
  report.excludeNetwork = true
  try {
    musl = !report.getReport().header.glibcVersionRuntime
  } finally {
    report.excludeNetwork = exclude_network
  }
  return musl
}

/**
 * The platform as @napi-rs/cli names its per-platform packages:
 * linux-x64-gnu, linux-arm64-musl, darwin-arm64, win32-x64-msvc, ...
 */
function platformName() {
  const {platform, arch} = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function prebuiltPackages() {
  return Object.keys(PACKAGE.optionalDependencies ?? {}).map((name) => name.slice(PACKAGE.name.length + 1))
}

/** The installed prebuilt package's addon for this platform, or null. */
function prebuilt() {
  const name = `${PACKAGE.name}-${platformName()}`
  let addon
  try {
    addon = require.resolve(name)
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err
    return null
  }
  // A stale or hoisted platform package would run other native code under this JavaScript.
  const {version} = require(`${name}/package.json`)
  if (version !== PACKAGE.version) {
    const err = new Error(`${PACKAGE.name}@${PACKAGE.version} found ${name}@${version}; reinstall so that their versions match`)
    err.code = 'ERR_ELECTOR_ADDON_VERSION'
    throw err
  }
  return addon
}

/** The addon to load: one built from source here, else the prebuilt one, or null. */
function locate() {
  return fs.existsSync(LOCAL_ADDON) ? LOCAL_ADDON : prebuilt()
}

function cargoAvailable() {
  try {
    execFileSync('cargo', ['--version'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

function noAddonError() {
  const prebuilt = prebuiltPackages()
  const err = new Error(
    `${PACKAGE.name}: no native addon for ${platformName()}. `
    + `Prebuilt packages exist for: ${prebuilt.length ? prebuilt.join(', ') : 'none'}; `
    + `if yours is listed, reinstall without --omit=optional or --no-optional. `
    + `Otherwise install Rust (https://rustup.rs) and run \`npm rebuild ${PACKAGE.name}\` `
    + `to build the addon from the bundled sources.`
  )
  err.code = 'ERR_ELECTOR_NO_ADDON'
  return err
}

/** Builds the addon from the bundled sources into native/ (minutes). */
function build() {
  execFileSync(process.execPath, [path.join(PACKAGE_DIR, 'scripts', 'build.js')], {stdio: ['ignore', 2, 2]})
  return LOCAL_ADDON
}

/** Loads the addon, building it first where nothing prebuilt matches and cargo is present. */
function load() {
  let addon = locate()
  if (!addon) {
    if (!cargoAvailable()) throw noAddonError()
    console.error(`${PACKAGE.name}: no prebuilt addon for ${platformName()}; building it from the bundled sources with cargo`)
    addon = build()
  }
  try {
    return require(addon)
  } catch (err) {
    const wrapped = new Error(`${PACKAGE.name}: the native addon for ${platformName()} (${addon}) failed to load: ${err.message}`, {cause: err})
    wrapped.code = 'ERR_ELECTOR_ADDON_LOAD'
    throw wrapped
  }
}

module.exports = {load, prebuilt, build, cargoAvailable, noAddonError}
