#!/usr/bin/env python3
"""layers.py SOURCE_ROOT [SHARED_OBJECT SYMBOL]... -- the layering holds.

The layers, bottom to top (docs/architecture.md):
  include/kafka-mtls.h   the contract
  common/                status and errors, trace, secrets, files, ...
  provider/              the OpenSSL provider
  enrol/                 the enrolment client for a CA service (src/ private; uses common/)
  issuer/                issuance (and enrolment, through enrol/)
  transport/             TLS under librdkafka (live rotation); OpenSSL only
  tool/, interceptor/    the command and the plugin, side by side
A production file may include the headers of its own directory, and the
public headers (LAYER/include/) of the layers below it; nothing else of the
project. Test files (tests/unit, tests/fuzz, tests/bench) may include any
public header and the private headers of at most one layer (the one they
test from the inside). Within a directory, no two files include each
other's headers, directly or around a loop. A project header is named
by its file name alone, or as "kmtls/NAME.h" for a public one: an include
with any other path ("../provider/volume.h") is refused, since it would
reach a private header past the include directories. Each SHARED_OBJECT
given exports SYMBOL and nothing else.

Before checking SOURCE_ROOT it checks the small tree tests/layers_fixture,
which breaks these rules, and fails unless every break is found.

Prints every violation and exits 1, or prints a summary and exits 0.
"""
import os
import re
import subprocess
import sys

ROOT = sys.argv[1]
LAYERS = [  # name, directory, the layers it may use
    ("contract", "include", []),
    ("common", "common", ["contract"]),
    ("provider", "provider", ["contract", "common"]),
    ("enrol", "enrol", ["contract", "common"]),
    ("issuer", "issuer", ["contract", "common", "provider", "enrol"]),
    ("transport", "transport", ["contract"]),
    ("tool", "tool", ["contract", "common", "provider", "issuer"]),
    ("interceptor", "interceptor", ["contract", "common", "provider", "issuer", "transport"]),
]
TEST_DIRS = ["tests/unit", "tests/fuzz", "tests/bench", "tests/enrol", "tests/transport", "tests/live"]
# A layer whose production files live below its directory (not beside its
# meson.build): enrol/src. Its private headers are those of that directory.
SOURCE_DIRS = {"enrol": "enrol/src"}
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^">]+)[">]', re.M)


def sources(directory):
    """The .c and .h files of a directory (not below it)."""
    path = os.path.join(ROOT, directory)
    if not os.path.isdir(path):
        return []
    return sorted(os.path.join(directory, f) for f in os.listdir(path)
                  if f.endswith((".c", ".h")) and os.path.isfile(os.path.join(path, f)))


def public_headers(directory):
    """The headers under DIRECTORY/include, as they are included."""
    base = os.path.join(ROOT, directory, "include")
    if directory == "include":
        base = os.path.join(ROOT, "include")
    found = set()
    for top, _, files in os.walk(base):
        for f in files:
            if f.endswith(".h"):
                found.add(os.path.relpath(os.path.join(top, f), base))
    return found


def includes(path):
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return INCLUDE.findall(text)


def by_path(path):
    """The includes of a file that name a header by a path instead
    of a name: anything with a '/' but "kmtls/NAME.h", and any '..'."""
    with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
        text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
    return [quote + h + (">" if quote == "<" else '"') for quote, h in re.findall(r'^\s*#\s*include\s*([<"])([^">]+)[">]', text, re.M)
            if ".." in h.split("/") or (quote == '"' and "/" in h and not re.fullmatch(r"kmtls/[^/]+\.h", h))]


public = {name: public_headers(d) for name, d, _ in LAYERS}
private = {name: {os.path.basename(p) for p in sources(SOURCE_DIRS.get(name, d)) if p.endswith(".h")}
           for name, d, _ in LAYERS if name != "contract"}
private["contract"] = set()


def owner(header):
    """(layer, 'public' | 'private') of a project header, or None."""
    for name, _, _ in LAYERS:
        if header in public[name]:
            return name, "public"
    for name, _, _ in LAYERS:
        if header in private[name]:
            return name, "private"
    return None


problems = []
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers_fixture")
# what the fixture tree breaks, each as it must be reported
FIXTURE_BREAKS = ['issuer/reaches_by_path.c: includes "../provider/volume.h" by a path',
                  'issuer/reaches_up.c: includes <../provider/volume.h> by a path']


def self_test():
    """This check refuses the breaks of tests/layers_fixture, each one."""
    if os.path.realpath(ROOT) == os.path.realpath(FIXTURE):
        return
    out = subprocess.run([sys.executable, os.path.abspath(__file__), FIXTURE], capture_output=True,
                         text=True).stdout
    for want in FIXTURE_BREAKS:
        if f"FAIL - {want}" not in out.splitlines():
            problems.append(f"self-test: {FIXTURE} breaks the rules and {want!r} was not reported:\n{out}")


self_test()


def check_cycles(directory, files):
    """No include loop among the files of one directory."""
    stem = lambda p: os.path.splitext(os.path.basename(p))[0]
    local = {os.path.basename(f) for f in files}
    edges = {}
    for f in files:
        for h in includes(f):
            if h in local and stem(h) != stem(f):
                edges.setdefault(stem(f), set()).add(stem(h))
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                loop = stack[stack.index(m):] + [m]
                problems.append(f"{directory}: include cycle {' -> '.join(loop)}")
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(edges):
        if n not in state:
            visit(n)


for name, directory, below in LAYERS:
    if name == "contract":
        continue
    files = sources(SOURCE_DIRS.get(name, directory))
    for top, _, names in os.walk(os.path.join(ROOT, directory, "include")):
        files += [os.path.relpath(os.path.join(top, f), ROOT) for f in names if f.endswith(".h")]
    for f in files:
        problems.extend(f"{f}: includes {h} by a path" for h in by_path(f))
        for h in includes(f):
            o = owner(h)
            if o is None or o[0] == name or (o[1] == "public" and o[0] in below):
                continue
            problems.append(f"{f}: includes {h}, {o[1]} to {o[0]}"
                            + ("" if o[1] == "private" else f" (above or beside {name})"))
    check_cycles(directory, sources(SOURCE_DIRS.get(name, directory)))

for directory in TEST_DIRS:
    if not os.path.isdir(os.path.join(ROOT, directory)):
        continue
    local = {os.path.basename(f) for f in sources(directory)}
    for f in sources(directory):
        problems.extend(f"{f}: includes {h} by a path" for h in by_path(f))
        inside = set()
        for h in includes(f):
            o = owner(h)
            if h in local or o is None or o[1] == "public":
                continue
            inside.add(o[0])
        if len(inside) > 1:
            problems.append(f"{f}: includes private headers of {', '.join(sorted(inside))}: a test reaches "
                            "into one layer at most")
    check_cycles(directory, sources(directory))

# The layers' build files hand out only their public include directories.
for name, directory, _ in LAYERS[1:]:
    if not os.path.isfile(os.path.join(ROOT, directory, "meson.build")):
        continue
    with open(os.path.join(ROOT, directory, "meson.build"), encoding="utf-8") as f:
        text = f.read()
    for arg in re.findall(r"include_directories\(([^)]*)\)", text):
        # the private directory of provider/, transport/, issuer/ and enrol/
        # goes only into their own library and their *_internal_dep, for tests
        if arg.strip() not in ("'include'",) and not (name in ("provider", "transport", "issuer")
                                                       and arg.strip() == "'.'") \
                and not (name == "enrol" and arg.strip() == "'src'"):
            problems.append(f"{directory}/meson.build: include_directories({arg}) reaches past the public headers")
    for internal, owner_layer in (("provider_internal_dep", "provider"), ("enrol_internal_dep", "enrol"),
                                  ("transport_internal_dep", "transport"), ("issuer_internal_dep", "issuer")):
        if internal in text and name != owner_layer:
            problems.append(f"{directory}/meson.build: uses {internal} (for tests only)")

args = sys.argv[2:]
for so, symbol in zip(args[0::2], args[1::2]):
    out = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True, check=True).stdout
    exported = sorted({line.split()[-1] for line in out.splitlines()
                       if len(line.split()) == 3 and line.split()[1] in "TDBRVWiu"})
    if exported != [symbol]:
        problems.append(f"{os.path.basename(so)} exports {exported}, not only {symbol}")

for p in problems:
    print(f"FAIL - {p}")
if problems:
    sys.exit(1)
print(f"ok - {len(LAYERS)} layers, each crossed only through its public header; no include cycle"
      + (f"; {len(args) // 2} shared objects export only their entry point" if args else ""))
