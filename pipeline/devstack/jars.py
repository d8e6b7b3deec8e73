"""Java and Maven checks, and the Kafka broker's classpath resolved through Maven.

The jars live in the local Maven repository, which is their cache: Maven is asked
offline first, so a second run (even from a fresh clone) downloads nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from pipeline.devstack.layout import POM, DevStackSettings
from pipeline.errors import DevStackError, MissingToolError

MIN_JAVA = 17
_JAVA_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def java_executable() -> str:
    """The `java` of JAVA_HOME if set, else the one on PATH; at least Java 17."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise MissingToolError(
            "Java not found: Kafka needs Java 17 or newer "
            "(install a JDK, e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME)"
        )
    major = java_major_version(candidate)
    if major < MIN_JAVA:
        raise MissingToolError(
            f"Java {major} found at {candidate}: Kafka needs Java {MIN_JAVA} or newer "
            "(install a newer JDK or point JAVA_HOME at one)"
        )
    return candidate


def java_major_version(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    match = _JAVA_VERSION.search(out.stderr + out.stdout)
    if not match:
        raise MissingToolError(f"cannot tell the version of {java}: {out.stderr.strip()[:200]}")
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


def maven_executable() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise MissingToolError(
            "Maven (mvn) not found: it fetches Kafka's jars once "
            "(install it, e.g. `apt-get install maven`)"
        )
    return mvn


def pom_digest(pom: Path = POM) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()[:16]


def kafka_classpath(settings: DevStackSettings, pom: Path = POM) -> str:
    """The broker's classpath, cached in `home` per pom content; Maven resolves it once."""
    cache = settings.classpath_file
    digest = pom_digest(pom)
    if cache.exists():
        stamp, _, classpath = cache.read_text().partition("\n")
        if stamp == digest and all(Path(p).exists() for p in classpath.split(os.pathsep)):
            return classpath
    classpath = resolve_classpath(pom, settings.home)
    _write_atomically(cache, f"{digest}\n{classpath}")
    return classpath


def resolve_classpath(pom: Path, workdir: Path) -> str:
    """Ask Maven for the jars: offline first (local repository), then online."""
    mvn = maven_executable()
    workdir.mkdir(parents=True, exist_ok=True)
    # Absolute: Maven resolves a relative output file against the pom's folder, not ours.
    out_file = (workdir / "classpath.resolving").resolve()
    base = [mvn, "-q", "-B", "-f", str(pom), "dependency:build-classpath"]
    base.append(f"-Dmdep.outputFile={out_file}")
    for offline in (True, False):
        result = subprocess.run(
            [*base, "-o"] if offline else base,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode == 0 and out_file.exists():
            classpath = out_file.read_text().strip()
            out_file.unlink()
            return classpath
    out_file.unlink(missing_ok=True)
    if result.returncode == 0:
        reason = f"it succeeded but wrote no classpath to {out_file}"
    else:
        reason = _maven_error(result.stdout + result.stderr)
    raise DevStackError(f"Maven could not resolve Kafka's jars from {pom.name}: {reason}")


def _maven_error(output: str) -> str:
    """Maven's first [ERROR] line, without colour codes and its "-> [Help 1]" pointer."""
    lines = _ANSI.sub("", output).splitlines()
    errors = [
        line[8:].split(" -> [Help")[0].strip() for line in lines if line.startswith("[ERROR]")
    ]
    errors = [line for line in errors if line]
    return errors[0][:400] if errors else output.strip()[-400:] or "unknown error"


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
