'use strict'

// Run by `npm pack` (prepack/postpack): bundles the Rust sources the addon
// is built from into rust/, a workspace of its own, so that installing the
// packed tarball on another machine builds it with cargo. --clean removes it.

const fs = require('node:fs')
const path = require('node:path')

const package_dir = path.resolve(__dirname, '..')
const repo = path.resolve(package_dir, '..', '..')
const out = path.join(package_dir, 'rust')

fs.rmSync(out, {recursive: true, force: true})
if (process.argv.includes('--clean')) process.exit(0)

const copy = (from, to) => fs.cpSync(path.join(repo, from), path.join(out, to), {recursive: true})
copy('core/src', 'core/src')
copy('core/Cargo.toml', 'core/Cargo.toml')
copy('bindings/node/src', 'node/src')
copy('bindings/node/build.rs', 'node/build.rs')
copy('bindings/node/Cargo.toml', 'node/Cargo.toml')
copy('Cargo.lock', 'Cargo.lock')

// The repository's workspace manifest, with only these two members and
// without the dev-dependency on the test-support crate.
let root = fs.readFileSync(path.join(repo, 'Cargo.toml'), 'utf8')
root = root.replace(/^members = .*$/m, 'members = ["core", "node"]')
root = root.replace(/^elector-test-support = .*\n/m, '')
fs.writeFileSync(path.join(out, 'Cargo.toml'), root)
let core = fs.readFileSync(path.join(out, 'core', 'Cargo.toml'), 'utf8')
core = core.replace(/\n\[dev-dependencies\][\s\S]*?(?=\n\[)/, '\n')
fs.writeFileSync(path.join(out, 'core', 'Cargo.toml'), core)
