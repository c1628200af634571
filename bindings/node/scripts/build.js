'use strict'

// Builds the native addon from source with cargo (run by `npm install`).
// Inside the repository it builds the workspace's elector-node crate; from a
// packed tarball it builds the sources `npm pack` bundled under rust/.
// ELECTOR_NODE_PROFILE=dev builds unoptimised (faster, for tests).

const {execFileSync} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const package_dir = path.resolve(__dirname, '..')
const bundled = path.join(package_dir, 'rust', 'Cargo.toml')
const workspace = path.resolve(package_dir, '..', '..', 'Cargo.toml')
const manifest = fs.existsSync(bundled) ? bundled : workspace
if (!fs.existsSync(manifest)) {
  console.error('elector: no Rust sources found (expected rust/Cargo.toml or the repository workspace)')
  process.exit(1)
}

const profile = process.env.ELECTOR_NODE_PROFILE || 'release'
const target_dir = process.env.CARGO_TARGET_DIR || path.join(path.dirname(manifest), 'target')
// The repository's lock file pins everything (--locked); the bundle's is the
// same file, which cargo prunes to the crates it holds.
const locked = manifest === workspace ? ['--locked'] : []
const args = ['build', ...locked, '--profile', profile, '-p', 'elector-node', '--manifest-path', manifest]
console.error(`elector: cargo ${args.join(' ')}`)
try {
  execFileSync('cargo', args, {stdio: 'inherit', env: {...process.env, CARGO_TARGET_DIR: target_dir}})
} catch (err) {
  console.error('elector: building the native addon failed; cargo (Rust) is required: https://rustup.rs')
  process.exit(1)
}

const profile_dir = profile === 'dev' ? 'debug' : profile
const library = {darwin: 'libelector_node.dylib', win32: 'elector_node.dll'}[process.platform] ?? 'libelector_node.so'
fs.mkdirSync(path.join(package_dir, 'native'), {recursive: true})
// Copied beside, then renamed: a process loading the addon meanwhile sees the
// old file or the new one, never half of one.
const addon = path.join(package_dir, 'native', 'elector.node')
const partial = `${addon}.${process.pid}.tmp`
fs.copyFileSync(path.join(target_dir, profile_dir, library), partial)
fs.renameSync(partial, addon)
// Installed from a tarball with cargo's default target directory: drop the
// build tree (hundreds of MB) once the addon is copied out.
if (manifest === bundled && !process.env.CARGO_TARGET_DIR) fs.rmSync(target_dir, {recursive: true, force: true})
