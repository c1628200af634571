"""Checks every shared object under the unpacked artifacts against the name
of the artifact that carries it: the ELF machine (x64/x86_64 or
arm64/aarch64), the libc it links (glibc, or musl where the name says musl),
the highest GLIBC_ symbol version it needs (objdump -T), and that its debug
info was stripped. Prints one line per object; exits 1 on any mismatch.

    python3 check_elf.py --max-glibc 2.28 DIR

DIR holds one folder per artifact, named after the artifact's file (as
tests/dist/run unpacks them).
"""
import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

MACHINES = {'x86_64': 'Advanced Micro Devices X86-64', 'aarch64': 'AArch64'}
ARCH_NAMES = {'x64': 'x86_64', 'x86_64': 'x86_64', 'arm64': 'aarch64', 'aarch64': 'aarch64'}


def version_key(version):
    return tuple(int(part) for part in version.split('.'))


def expected(artifact):
    """The architecture and libc that an artifact's name promises."""
    arch = next((ARCH_NAMES[token] for token in re.split(r'[-.]', artifact) if token in ARCH_NAMES), None)
    libc = 'musl' if 'musl' in artifact else 'glibc'
    return arch, libc


def is_elf(path):
    with open(path, 'rb') as file:
        return file.read(4) == b'\x7fELF'


def run(*command):
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def objdump_for(arch):
    cross = f'{arch}-linux-gnu-objdump'
    return cross if shutil.which(cross) else 'objdump'


def check(path, arch, libc, max_glibc):
    problems = []
    header = run('readelf', '-h', str(path))
    machine = re.search(r'Machine:\s+(.*)', header).group(1).strip()
    if machine != MACHINES[arch]:
        problems.append(f'machine is {machine}, expected {MACHINES[arch]}')
    needed = re.findall(r'\(NEEDED\)\s+Shared library: \[(.*)\]', run('readelf', '-d', str(path)))
    versions = sorted(set(re.findall(r'GLIBC_([0-9.]+)', run(objdump_for(arch), '-T', str(path)))), key=version_key)
    highest = versions[-1] if versions else None
    if libc == 'glibc':
        if 'libc.so.6' not in needed:
            problems.append(f'does not link glibc (NEEDED: {needed})')
        if highest and version_key(highest) > version_key(max_glibc):
            problems.append(f'needs GLIBC_{highest}, above {max_glibc}')
    else:
        if 'libc.so.6' in needed or versions:
            problems.append(f'links glibc (NEEDED: {needed}, GLIBC_{highest})')
        if not any(name.startswith('libc.') for name in needed):
            problems.append(f'does not link musl libc (NEEDED: {needed})')
    sections = run('readelf', '-S', '-W', str(path))
    for section in ('.debug_info', '.symtab'):
        if section in sections:
            problems.append(f'not stripped ({section})')
    return machine, highest, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--max-glibc', required=True)
    parser.add_argument('dir', type=Path)
    args = parser.parse_args()

    failures = 0
    objects = 0
    for artifact in sorted(p for p in args.dir.iterdir() if p.is_dir()):
        arch, libc = expected(artifact.name)
        found = 0
        for path in sorted(artifact.rglob('*')):
            if path.is_symlink() or not path.is_file() or not is_elf(path):
                continue
            objects += 1
            found += 1
            if arch is None:
                print(f'  FAIL {path.relative_to(args.dir)}: a shared object in an artifact whose name names no platform')
                failures += 1
                continue
            machine, highest, problems = check(path, arch, libc, args.max_glibc)
            glibc = f'GLIBC_{highest}' if highest else 'no glibc symbols'
            size = path.stat().st_size / 2**20
            status = 'FAIL' if problems else 'ok  '
            print(f'  {status} {path.relative_to(args.dir)}: {machine}, {libc}, {glibc}, {size:.1f} MiB'
                  + ''.join(f'; {problem}' for problem in problems))
            failures += bool(problems)
        if arch is not None and found == 0:
            print(f'  FAIL {artifact.name}: a platform artifact without a shared object')
            failures += 1
    if objects == 0:
        print('no shared objects found')
        return 1
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
