#!/usr/bin/env python3
"""What .github/workflows/release.yml asks of the tree before and while it releases a tag.

    python3 scripts/release.py check-tag v0.1.0   # prints 0.1.0, or fails: the tag, pyproject's version and
                                                  # k8s/prod's image tags must all be that version
    python3 scripts/release.py notes 0.1.0        # prints CHANGELOG.md's section for 0.1.0 (the release notes)

`devtools --version` reads the installed package's metadata, which pyproject's version makes, and the images
carry it as their org.opencontainers.image.version label: so a tag that is not pyproject's version would
publish images and a CLI that say another version than the release. The check stops that before anything is
built. Standard library only: the workflow runs it with the runner's python3, nothing installed.

A failure is one sentence and a hint on stderr, and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A release version as pyproject writes it: N.N.N, optionally a pre-release (1.0.0rc1) or post-release.
VERSION = re.compile(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?")
# Keep a Changelog's link reference definitions close the last section: "[0.1.0]: https://...".
LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s", re.MULTILINE)


class ReleaseError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def version_of_tag(tag: str) -> str:
    """``v0.1.0`` -> ``0.1.0``; any other shape is refused."""
    tag = tag.removeprefix("refs/tags/")
    if not (tag.startswith("v") and VERSION.fullmatch(tag[1:])):
        raise ReleaseError(
            f"the tag {tag!r} is not a release tag: v and a version, such as v0.1.0.",
            "delete it (git push --delete origin TAG) and tag again as v<pyproject's version>",
        )
    return tag[1:]


def pyproject_version(root: Path) -> str:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]


def prod_image_tags(root: Path) -> dict[str, str]:
    """The images k8s/prod deploys and their tags: its kustomization's ``images:`` entries (name, newTag)."""
    text = (root / "k8s" / "prod" / "kustomization.yaml").read_text()
    entries = re.findall(r"-\s+name:\s*(\S+)\s*\n(?:\s+newName:.*\n)?\s+newTag:\s*[\"']?([^\s\"']+)", text)
    return dict(entries)


def released_images(root: Path) -> list[str]:
    """The images a release publishes: docker-bake.json's default group, as k8s/base names them."""
    bake = json.loads((root / "docker-bake.json").read_text())
    return [f"cartridge-{target}" for target in bake["group"]["default"]["targets"]]


def check_tag(tag: str, root: Path = ROOT) -> str:
    """The version ``tag`` releases, if pyproject and k8s/prod say the same version; else a ReleaseError."""
    version = version_of_tag(tag)
    declared = pyproject_version(root)
    if declared != version:
        raise ReleaseError(
            f"the tag {tag} releases {version}, but pyproject.toml's version is {declared}.",
            f"set version = {version!r} in pyproject.toml (and k8s/prod's image tags), commit, and tag that commit",
        )
    deployed = prod_image_tags(root)
    wrong = [
        f"{image}:{deployed.get(image, '(none)')}" for image in released_images(root) if deployed.get(image) != version
    ]
    if wrong:
        raise ReleaseError(
            f"k8s/prod deploys other images than the release {version}: {', '.join(wrong)}.",
            f"set every image's newTag in k8s/prod/kustomization.yaml to {version}, commit, and tag that commit",
        )
    return version


def changelog_section(text: str, version: str) -> str:
    """The body of ``## [version]`` in a Keep a Changelog file, without its heading, blank edges trimmed."""
    heading = re.search(rf"^## \[{re.escape(version)}\][^\n]*\n", text, re.MULTILINE)
    if heading is None:
        raise ReleaseError(
            f"CHANGELOG.md has no section for {version}.",
            f"move the Unreleased entries under a new heading '## [{version}] - YYYY-MM-DD' before tagging",
        )
    rest = text[heading.end() :]
    ends = [m.start() for m in (re.search(r"^## ", rest, re.MULTILINE), LINK_DEFINITION.search(rest)) if m]
    body = rest[: min(ends, default=len(rest))].strip()
    if not body:
        raise ReleaseError(
            f"CHANGELOG.md's section for {version} is empty.",
            "write what the release adds, changes and fixes under its heading",
        )
    return body + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this script's)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check-tag", help="print the tag's version if the tree releases it").add_argument("tag")
    commands.add_parser("notes", help="print CHANGELOG.md's section for a version").add_argument("version")
    args = parser.parse_args(argv)
    try:
        if args.command == "check-tag":
            print(check_tag(args.tag, args.root))
        else:
            sys.stdout.write(changelog_section((args.root / "CHANGELOG.md").read_text(), args.version))
    except ReleaseError as error:
        print(f"error: {error}\nhint: {error.hint}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
