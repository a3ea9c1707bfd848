#!/usr/bin/env python3
"""Static checks of deploy/Dockerfile (no Docker engine runs on the CI
machines; test/deploy/rootfs_test.sh runs the image's file tree instead).

    check_dockerfile.py SOURCE_DIR

- every base image is pinned to a tag or digest, never :latest or untagged;
  the build stage is Debian 12, the runtime stage an empty `scratch`;
- the runtime stage runs as the numeric user the manifests use (65532),
  exposes 9717, and starts /usr/local/bin/meshprobe in exec form;
- the tree comes from deploy/image/assemble-rootfs.sh (the script the
  rootfs test proves), and nothing is fetched from a URL at build time;
- the build stage installs every library package of .ci/install-deps;
- the build context filter keeps .git and build trees out;
- the build's CMake command configures (a configure-only run, no compile)
  and defines the meshprobe target.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
    return condition


def instructions(text):
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        part = stripped.rstrip("\\").strip()
        current = f"{current} {part}" if current else part
        if stripped.endswith("\\"):
            continue
        if current:
            word, _, rest = current.partition(" ")
            out.append((word.upper(), rest.strip()))
        current = ""
    return out


def main():
    source = sys.argv[1]
    with open(os.path.join(source, "deploy", "Dockerfile")) as f:
        text = f.read()
    steps = instructions(text)
    args = {}
    for word, rest in steps:
        if word == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args.setdefault(name.strip(), value.strip())

    stages = []  # (image, name, [steps])
    for word, rest in steps:
        if word == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), ""),
                           parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append((image, name, []))
        elif stages:
            stages[-1][2].append((word, rest))
    if not check(len(stages) >= 2, "not a multi-stage build"):
        return report()

    stage_names = {name for _, name, _ in stages if name}
    for image, _, _ in stages:
        if image == "scratch" or image in stage_names:
            continue
        repository, _, digest = image.partition("@")
        tag = repository.rsplit("/", 1)[-1].partition(":")[2]
        check(digest or tag, f"base image {image!r} has no tag")
        check(tag != "latest", f"base image {image!r} is :latest")
    build_image = stages[0][0]
    check(re.match(r"(docker\.io/(library/)?)?debian:(12|bookworm)", build_image),
          f"the build stage is {build_image!r}, not Debian 12")

    final_image, _, final = stages[-1]
    check(final_image == "scratch", f"the runtime stage is {final_image!r}, not scratch")
    users = [rest for word, rest in final if word == "USER"]
    check(users == ["65532:65532"], f"runtime USER {users}, expected 65532:65532")
    check(["9717"] == [rest for word, rest in final if word == "EXPOSE"], "does not EXPOSE 9717")
    entry = [rest for word, rest in final if word == "ENTRYPOINT"]
    check(entry == ['["/usr/local/bin/meshprobe"]'], f"ENTRYPOINT {entry}: expected exec form "
                                                     "[\"/usr/local/bin/meshprobe\"]")
    cmd = [rest for word, rest in final if word == "CMD"]
    check(cmd and "/etc/meshprobe/config.yaml" in cmd[0], "CMD does not run the agent on "
                                                          "/etc/meshprobe/config.yaml")
    copies = [rest for word, rest in final if word == "COPY"]
    check(copies == ["--from=build /rootfs/ /"], f"the runtime stage copies {copies}, expected "
                                                 "only the assembled tree")
    check(not [w for w, _ in final if w in ("RUN", "ADD")], "the runtime stage runs commands")

    runs = " ".join(rest for word, rest in stages[0][2] if word == "RUN")
    check("deploy/image/assemble-rootfs.sh" in runs, "the tree is not made by assemble-rootfs.sh")
    check(not re.search(r"\b(curl|wget)\b", runs), "the build downloads with curl/wget")
    check(not [rest for word, rest in steps if word == "ADD"], "ADD used (COPY, or nothing)")

    # The library group of .ci/install-deps (from its "# libraries" comment
    # to the next comment), test frameworks aside.
    deps, in_group = set(), False
    with open(os.path.join(source, ".ci", "install-deps")) as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("#"):
                in_group = stripped.startswith("# libraries")
            elif in_group:
                deps.update(re.findall(r"[a-z0-9][\w.+-]*-dev\b", stripped))
    deps -= {"libgtest-dev", "libgmock-dev"}
    check(len(deps) >= 5, f"found only {sorted(deps)} in .ci/install-deps' library group")
    installed = set(re.findall(r"\b([a-z0-9][\w.+-]*)\b", runs))
    missing = sorted(deps - installed)
    check(not missing, f"the build stage lacks packages of .ci/install-deps: {missing}")

    with open(os.path.join(source, "deploy", "Dockerfile.dockerignore")) as f:
        ignored = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    for needed in (".git", "build-*"):
        check(needed in ignored, f"Dockerfile.dockerignore does not exclude {needed}")

    # The build command itself, configure only.
    cmake = [m for m in re.findall(r"cmake -S \. -B /build[^&]*", runs)]
    if check(cmake, "no `cmake -S . -B /build` in the build stage") and shutil.which("cmake"):
        words = shlex.split(cmake[0])
        with tempfile.TemporaryDirectory() as build:
            words = [w if w != "/build" else build for w in words]
            words[words.index(".")] = source
            result = subprocess.run(words, capture_output=True, text=True)
            if check(result.returncode == 0, f"{' '.join(words)}:\n{result.stderr[-2000:]}"):
                targets = subprocess.run(["cmake", "--build", build, "--target", "help"],
                                         capture_output=True, text=True).stdout
                check(re.search(r"^meshprobe:", targets, re.M),
                      "the configured build has no meshprobe target")
                check(not re.search(r"_tests?:", targets), "tests are configured in the image build")
    return report()


def report():
    if failures:
        print("FAIL [dockerfile]:")
        for message in failures:
            print(f"  {message}")
        return 1
    print("ok [dockerfile]")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} SOURCE_DIR")
    sys.exit(main())
