#!/usr/bin/env python3
"""Validates META.json against the PGXN Meta Spec 1.0.0 (https://pgxn.org/spec/).

A hand-written check of the spec's rules (stdlib only: there is no PyPI here): required keys,
their types, SemVer versions, license strings, the shape of provides/prereqs/resources, and
that every `provides` entry names a file this tree builds and the version the control file
installs. Prints `N passed, M failed`.
"""
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")
VERSION_RANGE = re.compile(r"^\s*((==|!=|>=|<=|>|<)\s*)?(0|[1-9]\d*)(\.\d+){0,2}(-[0-9A-Za-z-]+)?\s*$")
LICENSES = {"agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
            "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
            "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0",
            "ssleay", "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown"}
PHASES = {"configure", "build", "runtime", "test", "develop"}
RELATIONS = {"requires", "recommends", "suggests", "conflicts"}

checks = []


def check(name, ok):
    checks.append((name, bool(ok)))


def is_str(v):
    return isinstance(v, str) and v.strip() != ""


def main():
    with open(os.path.join(ROOT, "META.json")) as f:
        meta = json.load(f)
    check("top level is an object", isinstance(meta, dict))
    for key in ("name", "abstract", "version", "maintainer", "license", "provides", "meta-spec"):
        check(f"required key {key}", key in meta)
    check("name is a string without / \\ or control characters",
          is_str(meta.get("name")) and not re.search(r"[/\\\x00-\x1f]", meta["name"]))
    check("abstract is a string", is_str(meta.get("abstract")))
    check("version is SemVer", SEMVER.match(str(meta.get("version", ""))))
    m = meta.get("maintainer")
    check("maintainer is a string or a list of strings",
          is_str(m) or (isinstance(m, list) and m and all(is_str(x) for x in m)))
    lic = meta.get("license")
    if isinstance(lic, str):
        check("license is a known string", lic in LICENSES)
    else:
        check("license is a known string or a name->URL map",
              isinstance(lic, dict) and lic and all(is_str(k) and is_str(v) for k, v in lic.items()))
    spec = meta.get("meta-spec", {})
    check("meta-spec.version is 1.0.0", spec.get("version") == "1.0.0")
    check("meta-spec.url, if present, is a string", "url" not in spec or is_str(spec["url"]))
    provides = meta.get("provides", {})
    check("provides is a non-empty object", isinstance(provides, dict) and provides)
    control_versions = {}
    for ext in provides:
        control = os.path.join(ROOT, ext + ".control")
        if os.path.exists(control):
            with open(control) as f:
                mv = re.search(r"default_version\s*=\s*'([^']+)'", f.read())
            control_versions[ext] = mv.group(1) if mv else None
    for ext, p in provides.items():
        check(f"provides.{ext} has file and version",
              isinstance(p, dict) and is_str(p.get("file")) and SEMVER.match(str(p.get("version", ""))))
        check(f"provides.{ext}.version equals the control file's default_version",
              control_versions.get(ext) == p.get("version"))
        built = os.path.join(ROOT, "src", "sql", ext)
        check(f"provides.{ext}.file is built from src/sql/{ext}/",
              p.get("file") == f"{ext}--{p.get('version')}.sql" and os.path.isdir(built))
        if "docfile" in p:
            check(f"provides.{ext}.docfile exists", os.path.exists(os.path.join(ROOT, p["docfile"])))
    prereqs = meta.get("prereqs", {})
    check("prereqs is an object", isinstance(prereqs, dict))
    for phase, rels in prereqs.items():
        check(f"prereqs phase {phase} is known", phase in PHASES)
        for rel, reqs in rels.items():
            check(f"prereqs.{phase}.{rel} relation is known", rel in RELATIONS)
            for name, ver in reqs.items():
                check(f"prereqs.{phase}.{rel}.{name} version is a version or range",
                      ver == 0 or (isinstance(ver, str) and all(VERSION_RANGE.match(x) for x in ver.split(","))))
    if "release_status" in meta:
        check("release_status is stable, testing or unstable",
              meta["release_status"] in ("stable", "testing", "unstable"))
    if "tags" in meta:
        check("tags are short strings", all(is_str(t) and len(t) <= 255 for t in meta["tags"]))
    if "resources" in meta:
        check("resources is an object", isinstance(meta["resources"], dict))

    failed = [n for n, ok in checks if not ok]
    for n in failed:
        print("FAILED:", n)
    print(f"META.json: {len(checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
