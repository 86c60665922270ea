"""The guest's root file system: a directory the harness makes, given to
the kernel as one of ROOTS (a line's table says which: [guest] root):
exported read-only over virtio-9p, or packed into an initramfs that the
kernel unpacks into its rootfs.  It holds only what the workloads need (a shell
and a few tools, btrfs-progs, dmsetup, fio, xfs_io, the shared libraries
they load, the guest init, the compiled workloads and the user's own), so
nothing else of the host (/root, /etc/shadow, keys, the checkout) is visible
to the kernel under test or to a workload.

Files sit at fixed guest paths, whatever the host paths are (a checkout
under /tmp or with spaces works):

    /bin/TOOL            the host's tools (real files, their libraries at
                         the paths the dynamic loader looks in)
    /harness/config/...  guest-config/ (guest init, fstab, scripts, fio jobs)
    /harness/bin/NAME    compiled workloads (harness.guestbin), and kmark
                         (guest-config/kmark.c), the init's kernel markers
    /harness/user/...    user workloads, by content

A root is cached by the content of everything in it
(cache/guest-root/DIGEST, and DIGEST.cpio when packed as an initramfs), so
the same files give the same directory and a changed tool or workload gives
a new one.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

from harness import guestbin, proc
from harness.errors import HarnessError
from harness.paths import GUEST_CONFIG, cache_dir

# What the guest runs: guest-init.sh, the workload scripts and a user's
# shell script get these, and nothing else.
TOOLS = (
    "sh", "mount", "umount", "mkfs.btrfs", "btrfs", "dmsetup", "blockdev", "chattr",
    "lsattr", "xfs_io", "awk", "sed", "grep", "tr", "cat", "head", "tail", "wc",
    "sleep", "sync", "ls", "mkdir", "rm", "cp", "mv", "dd", "truncate", "stat", "cmp",
    "od", "sha256sum", "date", "uname", "env", "touch", "ln", "readlink",
)
# what a user's workload (a fio job, or a script) gets as well: fio and the
# libraries it loads (librbd, ceph, ICU, ...) are ~75 MB of an 89 MB root,
# which an initramfs root unpacks at every boot (1.3 s under TCG)
USER_TOOLS = ("fio",)
# what virtme-ng's guest init needs as well (--runner vng)
VNG_TOOLS = ("bash", "base64", "setsid", "id", "chown", "chmod", "cut", "ln", "mknod", "stty",
             "hostname", "sort", "tee", "readlink", "basename", "dirname", "seq", "install",
             "touch", "mktemp")
MOUNT_POINTS = ("proc", "sys", "dev", "run", "mnt", "tmp", "etc")
# scripts name /usr/bin/env, /sbin/...: one bin directory under every name
LINKS = {"etc/mtab": "/proc/self/mounts", "sbin": "bin", "usr/bin": "../bin",
         "usr/sbin": "../bin"}
EMPTY = ("etc/fstab",)                  # virtme-ng's init bind-mounts over it
# device nodes an initramfs carries: the kernel opens /dev/console for PID
# 1 before anything mounts devtmpfs (guest-init.sh mounts it first thing)
NODES = {"dev/console": (0o020600, 5, 1)}
# the guest init's cell boundaries in the kernel's own order (/dev/kmsg)
KMARK = GUEST_CONFIG / "kmark.c"
KMARK_GUEST = "/harness/bin/kmark"
ROOTS_KEPT = 8
_LOCK = threading.Lock()
_DIGESTS: dict[tuple, str] = {}


def guest_path(host: Path) -> str:
    """Where a host file the guest needs appears inside the guest root."""
    host = Path(host).resolve()
    for base, where in ((GUEST_CONFIG.resolve(), "/harness/config"),
                        ((cache_dir() / "guest-bin").resolve(), "/harness/bin")):
        if host.is_relative_to(base):
            return f"{where}/{host.relative_to(base).as_posix()}"
    return f"/harness/user/{_digest_file(host)[:12]}/{_safe(host.name)}"


def _safe(name: str) -> str:
    """A file name the guest's plan and shell can carry (no spaces or '|')."""
    return "".join(c if c.isalnum() or c in "._-+" else "_" for c in name) or "workload"


def _digest_file(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


def _libraries(binary: Path) -> list[Path]:
    """The shared libraries `binary` loads, and the dynamic loader, as ldd
    resolves them on this host ([] for a static binary)."""
    cp = proc.run(["ldd", str(binary)], timeout=30, check=False)
    out = []
    for ln in (cp.stdout or "").splitlines():
        parts = ln.split()
        if "=>" in parts:
            i = parts.index("=>")
            if i + 1 < len(parts) and parts[i + 1].startswith("/"):
                out.append(Path(parts[i + 1]))
        elif parts and parts[0].startswith("/"):
            out.append(Path(parts[0]))          # the loader itself
    return out


def _tools(tools: tuple[str, ...]) -> dict[str, Path]:
    """guest path -> host file of every tool in `tools` and its libraries."""
    files: dict[str, Path] = {}
    missing = []
    for tool in tools:
        found = shutil.which(tool, path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                        "/sbin:/bin")
        if not found:
            missing.append(tool)
            continue
        real = Path(found).resolve()
        files[f"/bin/{tool}"] = real
        for lib in _libraries(real):
            files[str(lib)] = lib.resolve()       # at the path the loader asks for
    if missing:
        raise HarnessError(f"the guest root needs {', '.join(missing)} on this host: "
                           "run `make setup`")
    return files


def contents(extra: list[Path] = (), tools: tuple[str, ...] = ()) -> dict[str, Path]:
    """guest path -> host file: TOOLS and `tools`, guest-config/, and `extra`
    (compiled workloads, user files)."""
    files = _tools(TOOLS + tuple(t for t in tools if t not in TOOLS))
    files[KMARK_GUEST] = guestbin.compiled(KMARK)
    for p in sorted(GUEST_CONFIG.rglob("*")):
        if p.is_file() and "kconfig" not in p.relative_to(GUEST_CONFIG).parts:
            files[guest_path(p)] = p.resolve()
    for p in extra:
        files[guest_path(p)] = Path(p).resolve()
    return files


def build(extra: list[Path] = (), tools: tuple[str, ...] = ()) -> Path:
    """The guest root holding `contents(extra, tools)`, made once per content."""
    files = contents(extra, tools)
    h = hashlib.sha256()
    for guest, host in sorted(files.items()):
        mode = host.stat().st_mode & 0o111
        h.update(f"{guest}\0{_digest_file(host)}\0{mode:o}\n".encode())
    for link, target in sorted(LINKS.items()):
        h.update(f"{link}->{target}\n".encode())
    h.update(repr(EMPTY).encode())
    root = cache_dir() / "guest-root" / h.hexdigest()[:16]
    # the project's own files and a user's are copied, never hard-linked: an
    # edit in place (an editor, a script's open("w")) would reach into a root
    # cached under the old content's digest (seen: a guest-init.sh with a
    # syntax error booted from the root of the file's committed content)
    own = {GUEST_CONFIG.resolve(), *(Path(p).resolve() for p in extra)}
    copy = {host for host in files.values()
            if host in own or any(host.is_relative_to(d) for d in own if d.is_dir())}
    with _LOCK:
        if not root.exists():
            _make(root, files, copy)
            _prune(root.parent, keep=root)
        else:
            os.utime(root)
    return root


def _make(root: Path, files: dict[str, Path], copy: set[Path] = frozenset()) -> None:
    tmp = root.with_name(f"{root.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for d in MOUNT_POINTS:
            (tmp / d).mkdir(parents=True)
        for guest, host in files.items():
            dst = tmp / guest.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                if host in copy:
                    raise OSError("copied: the project's or the user's file")
                os.link(host, dst)              # a host tool, same file system: no copy
            except OSError:
                shutil.copyfile(host, dst)
                dst.chmod(0o644 | (0o111 if host.stat().st_mode & stat.S_IXUSR else 0))
        for link, target in LINKS.items():
            (tmp / link).parent.mkdir(parents=True, exist_ok=True)
            (tmp / link).symlink_to(target)
        for name in EMPTY:
            (tmp / name).touch()
        os.replace(tmp, root)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise HarnessError(f"cannot make the guest root in {root.parent}: {e.strerror}; "
                           "free space there or set HARNESS_CACHE") from None


def _prune(parent: Path, keep: Path) -> None:
    """Keep the newest ROOTS_KEPT roots, and any used in the last hour (another
    harness may be booting it)."""
    import time
    recent = time.time() - 3600
    roots = sorted((p for p in parent.iterdir() if p.is_dir() and p != keep
                    and not p.name.endswith(".tmp") and p.stat().st_mtime < recent),
                   key=lambda p: p.stat().st_mtime)
    for old in roots[:max(0, len(roots) - (ROOTS_KEPT - 1))]:
        shutil.rmtree(old, ignore_errors=True)
    for packed in parent.glob("*.cpio"):            # its directory is gone
        if not packed.with_suffix("").exists():
            packed.unlink(missing_ok=True)


# ------------------------------------------------------------ how it boots

def archive(root: Path) -> Path:
    """`root` as an uncompressed initramfs (cpio "newc", owner root, mtime
    0, plus NODES), made once next to it as DIGEST.cpio."""
    out = root.with_name(root.name + ".cpio")
    with _LOCK:
        if out.exists():
            return out
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                write_newc(fh, _entries(root))
            os.replace(tmp, out)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise HarnessError(f"cannot pack the guest root into {out}: {e.strerror}; "
                               "free space there or set HARNESS_CACHE") from None
    return out


def _entries(root: Path):
    """(name, mode, data or host file, rdev) of every entry under `root`,
    parents first, then NODES."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        rel = base.relative_to(root).as_posix()
        if rel != ".":
            yield rel, stat.S_IFDIR | 0o755, b"", (0, 0)
        for name in sorted(filenames + [d for d in dirnames if (base / d).is_symlink()]):
            p = base / name
            guest = f"{rel}/{name}".removeprefix("./")
            if p.is_symlink():
                yield guest, stat.S_IFLNK | 0o777, os.readlink(p).encode(), (0, 0)
            else:
                perm = 0o755 if p.stat().st_mode & stat.S_IXUSR else 0o644
                yield guest, stat.S_IFREG | perm, p, (0, 0)
    for name, (mode, major, minor) in NODES.items():
        yield name, mode, b"", (major, minor)


def write_newc(fh: BinaryIO, entries) -> None:
    """A cpio archive in the "newc" format the kernel unpacks
    (Documentation/driver-api/early-userspace/buffer-format.rst): each entry
    a 110-byte header of hex fields, its NUL-ended name and its data, each
    padded to 4 bytes; then the TRAILER!!! entry.  `entries` yield (name,
    mode, bytes or a host Path, (rdev major, minor)); every entry has an
    inode of its own and one link, so none is taken for a hard link."""
    def put(ino: int, name: str, mode: int, data: bytes, rdev=(0, 0)) -> None:
        raw = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(raw), 0)
        head = b"070701" + b"".join(b"%08x" % f for f in fields) + raw
        fh.write(head + b"\0" * (-len(head) % 4))
        fh.write(data + b"\0" * (-len(data) % 4))

    ino = 0
    for ino, (name, mode, data, rdev) in enumerate(entries, start=1):
        put(ino, name, mode, data.read_bytes() if isinstance(data, Path) else data, rdev)
    put(ino + 1, "TRAILER!!!", 0, b"")


@dataclass(frozen=True)
class RootKind:
    """One way for a kernel to get the guest root: what its config needs
    (a fragment of guest-config/kconfig/lines/; "" when 10-base.config has
    it), what QEMU is given (the directory, or a file made from it), and
    the kernel and QEMU arguments that boot it."""
    name: str
    fragment: str
    pack: Callable[[Path], Path]                  # the root directory -> what QEMU gets
    kernel_args: Callable[[str], list[str]]       # the guest init -> kernel arguments
    qemu_args: Callable[[str], list[str]]         # the packed root's path on the VM host


ROOTS = {
    # the kernel mounts the directory read-only over virtio-9p: every line
    # can (10-base.config), and virtme-ng needs it; 9p needs the network
    # stack (and before 6.12 TCP/IP too)
    "9p": RootKind(
        "9p", "", lambda root: root,
        lambda init: ["root=/dev/root", "rootfstype=9p",
                      "rootflags=trans=virtio,version=9p2000.L,cache=loose,msize=262144",
                      "ro", f"init={init}"],
        lambda path: ["-fsdev", f"local,id=guestroot,path={proc.qemu_opt(path)},"
                                "security_model=none,readonly=on,multidevs=remap",
                      "-device", "virtio-9p-pci,fsdev=guestroot,mount_tag=/dev/root"]),
    # the kernel unpacks the archive into its rootfs (a tmpfs, writable)
    # and runs the guest init from there: no network stack in the kernel
    "initramfs": RootKind(
        "initramfs", "initramfs-root.config", archive,
        lambda init: [f"rdinit={init}"],
        lambda path: ["-initrd", path]),
}
