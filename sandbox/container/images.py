"""Build the Docker sandbox images offline, and describe them for `grader doctor`.

`build_images()` makes, in order and each only when missing: the Docker engine is expected to be
up (scripts/install-docker.sh), the wheelhouse (scripts/make-wheelhouse.sh), the debootstrapped
base image (scripts/make-base-image.sh), then the runtime image from `images/Dockerfile.cpu` (and
`Dockerfile.cuda` with `gpu=True`). The runtime image is labelled with a hash of its inputs
(Dockerfile, runtime.txt, the wheel file names, the base image id); an image with the same label
is not rebuilt. The build context is streamed as a tar holding only the Dockerfile, runtime.txt
and the wheels, and the build runs with network "none": nothing is fetched.

    python -m sandbox.container.images build [--gpu] [--force]
    python -m sandbox.container.images info
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.container.errors import docker_client, docker_errors
from sandbox.errors import SandboxFailure, SandboxUnavailable
from sandbox.settings import REPO_ROOT, SandboxSettings

IMAGES_DIR = Path(__file__).resolve().parent / "dockerfiles"
SCRIPTS_DIR = REPO_ROOT / "scripts"
BASE_IMAGE = "grader-base:bookworm"
#: The label holding the hash of an image's inputs.
INPUTS_LABEL = "org.grader.inputs"
_CHUNK = 1024 * 1024

Log = Callable[[str], None]


@dataclass(frozen=True)
class ImageInfo:
    """What `grader doctor` shows about a sandbox image."""

    tag: str
    id: str
    created: str
    size_bytes: int
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSpec:
    """One runtime image to build: its tag, Dockerfile and inputs."""

    tag: str
    dockerfile: Path
    wheels: tuple[Path, ...]
    base_id: str

    def inputs_hash(self) -> str:
        """A hash of everything that makes the image; equal hashes mean an equal image."""
        digest = hashlib.sha256()
        digest.update(self.dockerfile.read_bytes())
        digest.update((IMAGES_DIR / "runtime.txt").read_bytes())
        for wheel in self.wheels:
            digest.update(wheel.name.encode() + b"\n")
        digest.update(self.base_id.encode())
        return digest.hexdigest()[:32]


def image_info(settings: SandboxSettings | None = None, *, gpu: bool = False) -> ImageInfo | None:
    """The configured sandbox image, or None when the engine or the image is not there."""
    settings = settings or SandboxSettings()
    tag = settings.gpu_image if gpu else settings.image
    try:
        with docker_errors("inspecting image " + tag):
            client = docker_client()
            try:
                attrs: dict[str, Any] = client.api.inspect_image(tag)
            finally:
                client.close()
    except (SandboxUnavailable, SandboxFailure):
        return None
    return ImageInfo(
        tag=tag,
        id=attrs["Id"],
        created=attrs["Created"],
        size_bytes=attrs["Size"],
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
    )


def build_images(
    gpu: bool = False,
    *,
    settings: SandboxSettings | None = None,
    wheelhouse: Path | None = None,
    force: bool = False,
    log: Log = print,
) -> list[str]:
    """Build what is missing of the base and runtime images; return the runtime image tags."""
    settings = settings or SandboxSettings()
    wheelhouse = wheelhouse or REPO_ROOT / ".wheelhouse"
    _run_script("make-wheelhouse.sh", {"WHEELHOUSE": str(wheelhouse)})
    _run_script("make-base-image.sh", {"GRADER_BASE_IMAGE": BASE_IMAGE})
    targets = [(settings.image, "Dockerfile.cpu")]
    if gpu:
        targets.append((settings.gpu_image, "Dockerfile.cuda"))
    with docker_errors("building the sandbox image"):
        client = docker_client()
        try:
            base_id = client.api.inspect_image(BASE_IMAGE)["Id"]
            wheels = _wheels(wheelhouse)
            for tag, dockerfile in targets:
                spec = ImageSpec(tag, IMAGES_DIR / dockerfile, wheels, base_id)
                _build_if_needed(client, spec, force=force, log=log)
        finally:
            client.close()
    return [tag for tag, _ in targets]


def _run_script(name: str, env: dict[str, str]) -> None:
    """Run one of the idempotent setup scripts; its output goes to the terminal."""
    script = SCRIPTS_DIR / name
    result = subprocess.run([str(script)], env={**os.environ, **env}, check=False)
    if result.returncode != 0:
        raise SandboxUnavailable(
            f"{script} failed (exit {result.returncode}); see its output above"
        )


def _wheels(wheelhouse: Path) -> tuple[Path, ...]:
    wheels = tuple(sorted(wheelhouse.glob("*.whl")))
    if not wheels or not any(wheelhouse.glob(".complete-*")):
        raise SandboxUnavailable(f"no complete wheelhouse in {wheelhouse}: run make wheelhouse")
    return wheels


def _build_if_needed(client: Any, spec: ImageSpec, *, force: bool, log: Log) -> None:
    """Build `spec` unless an image with its inputs hash is already tagged."""
    inputs = spec.inputs_hash()
    old = _existing(client, spec.tag)
    if old is not None and old[1] == inputs and not force:
        log(f"image: {spec.tag} up to date ({old[0][:19]})")
        return
    log(f"image: building {spec.tag} from {spec.dockerfile.name} ({len(spec.wheels)} wheels)")
    stream = client.api.build(
        fileobj=_context(spec),
        custom_context=True,
        tag=spec.tag,
        buildargs={"BASE_IMAGE": BASE_IMAGE},
        labels={INPUTS_LABEL: inputs},
        network_mode="none",
        rm=True,
        forcerm=True,
        pull=False,
        decode=True,
        timeout=3600,
    )
    _follow(stream, log)
    _prune_replaced(client, spec.tag, old)
    log(f"image: built {spec.tag}")


def _existing(client: Any, tag: str) -> tuple[str, str] | None:
    """(image id, inputs hash) of the image tagged `tag`, or None."""
    import docker.errors

    try:
        attrs = client.api.inspect_image(tag)
    except docker.errors.ImageNotFound:
        return None
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return attrs["Id"], labels.get(INPUTS_LABEL, "")


def _follow(stream: Iterator[dict[str, Any]], log: Log) -> None:
    """Relay the build log; raise on the first error the builder reports."""
    for chunk in stream:
        if "error" in chunk:
            detail = (chunk.get("errorDetail") or {}).get("message") or chunk["error"]
            raise SandboxFailure(f"image build failed: {str(detail).strip()}")
        text = str(chunk.get("stream", "")).rstrip()
        if text:
            log(text)


def _prune_replaced(client: Any, tag: str, old: tuple[str, str] | None) -> None:
    """Drop the image the new build replaced, and the build stage's leftovers (many GB)."""
    import docker.errors

    if old is not None and client.api.inspect_image(tag)["Id"] != old[0]:
        try:
            client.api.remove_image(old[0])
        except docker.errors.APIError:
            pass  # still used by a container: it goes when that container does
    client.api.prune_images(filters={"dangling": True, "label": "org.grader.stage=build"})


def _context(spec: ImageSpec) -> Iterator[bytes]:
    """The build context as a streamed tar: the Dockerfile, runtime.txt, wheels/ (no temp file)."""
    members = [("Dockerfile", spec.dockerfile), ("runtime.txt", IMAGES_DIR / "runtime.txt")]
    members += [(f"wheels/{wheel.name}", wheel) for wheel in spec.wheels]
    for arcname, path in members:
        yield from _tar_member(arcname, path)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _tar_member(arcname: str, path: Path) -> Iterator[bytes]:
    info = tarfile.TarInfo(arcname)
    info.size = path.stat().st_size
    info.mode = 0o644
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            yield chunk
    if pad := -info.size % tarfile.BLOCKSIZE:
        yield b"\0" * pad


def main(argv: list[str] | None = None) -> int:
    """`python -m sandbox.container.images build [--gpu] [--force]` or `... info`."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if args[:1] == ["build"]:
            build_images(gpu="--gpu" in args, force="--force" in args)
            return 0
        if args[:1] == ["info"]:
            info = image_info()
            print(info if info else "image: not built (run make image)")
            return 0 if info else 1
    except (SandboxUnavailable, SandboxFailure) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(
        "usage: python -m sandbox.container.images build [--gpu] [--force] | info", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
