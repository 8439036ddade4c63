#!/usr/bin/env python3
"""Builds deploy/Dockerfile WITHOUT a Docker engine and runs the result: each stage's FROM is a
debootstrap'd Debian 12 (minbase, what debian:12 and debian:12-slim are made of) chroot, and the
Dockerfile's own instructions are carried out in it, literally: ENV, ARG, WORKDIR, RUN (in the
chroot with the stage's environment), COPY from the context (minus .dockerignore) and
COPY --from=<stage>, USER. Then, as the image's USER, through its ENTRYPOINT:

  - no shared library of the binaries is missing (ldd in the runtime chroot);
  - gateway and router start against a Redis on the host loopback, become ready (the gateway
    needs the lws libuv plugin for that, which ldd cannot see), publish works, the image's
    HEALTHCHECK command passes, SIGTERM stops both;
  - `ctl token` mints a token.

Needs root (chroot, mounts), debootstrap and the Debian mirror: it downloads ~250 MB the first
time and takes several minutes. Not part of `make test`; run it when the Dockerfile changes:

  sudo tests/deploy/image_chroot_test.py          (BELFRY_CHROOT_CACHE: base rootfs cache,
                                                   default /var/cache/belfry-chroot)
Prints "N passed, M failed" last.
"""
import fnmatch
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCKERFILE = os.path.join(ROOT, "deploy", "Dockerfile")
CACHE = os.environ.get("BELFRY_CHROOT_CACHE", "/var/cache/belfry-chroot")
MIRROR = os.environ.get("BELFRY_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITES = {"debian:12": "bookworm", "debian:12-slim": "bookworm", "debian:bookworm": "bookworm",
          "debian:bookworm-slim": "bookworm"}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

passed = failed = 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}: {why}", flush=True)
    return ok


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


# ---- the Dockerfile ---------------------------------------------------------------------------


def instructions(path):
    """[(INSTRUCTION, rest)] with continuations joined and comments dropped."""
    out, cur = [], ""
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not cur and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if cur and line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            cur += line
            word, _, rest = cur.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            cur = ""
    return out


def dockerignore():
    pats = []
    p = os.path.join(ROOT, ".dockerignore")
    if os.path.exists(p):
        with open(p) as f:
            pats = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return pats


def ignored(rel, pats):
    parts = rel.split("/")
    for pat in pats:
        pat = pat.rstrip("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if fnmatch.fnmatch(prefix, pat) or (pat.startswith("**/") and
                                                fnmatch.fnmatch(parts[i - 1], pat[3:])):
                return True
    return False


def expand(s, env):
    for k, v in sorted(env.items(), key=lambda kv: -len(kv[0])):
        s = s.replace("${" + k + "}", v).replace("$" + k, v)
    return s


# ---- chroots ----------------------------------------------------------------------------------


def base_rootfs(image):
    suite = SUITES.get(image)
    if not suite:
        sys.exit(f"image_chroot_test: no debootstrap equivalent for FROM {image}")
    tarball = os.path.join(CACHE, f"{suite}-minbase.tar")
    if not os.path.exists(tarball):
        os.makedirs(CACHE, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix="debootstrap-", dir=CACHE)
        print(f"  debootstrap --variant=minbase {suite} (first run only) ...", flush=True)
        sh(["debootstrap", "--variant=minbase", suite, tmp, MIRROR], stdout=subprocess.DEVNULL)
        sh(["tar", "-C", tmp, "-cf", tarball + ".tmp", "."])
        os.replace(tarball + ".tmp", tarball)
        shutil.rmtree(tmp)
    return tarball


class Stage:
    def __init__(self, name, image, workdir):
        self.name, self.image = name, image
        self.dir = os.path.join(workdir, f"stage-{name}")
        os.makedirs(self.dir)
        sh(["tar", "-C", self.dir, "-xf", base_rootfs(image)])
        shutil.copy("/etc/resolv.conf", os.path.join(self.dir, "etc", "resolv.conf"))
        self.env = {"PATH": PATH, "HOME": "/root"}
        self.workdir = "/"
        self.user = None
        self.entrypoint, self.cmd, self.healthcheck = [], [], None
        self.mounts = []
        for m in ("proc", "dev", "sys"):
            target = os.path.join(self.dir, m)
            sh(["mount", "--rbind" if m != "proc" else "--bind", f"/{m}", target])
            sh(["mount", "--make-rslave", target])
            self.mounts.append(target)

    def path(self, p):
        return os.path.join(self.dir, p.lstrip("/"))

    def run(self, command, user=None, env=None, **kw):
        e = dict(self.env, **(env or {}))
        argv = ["chroot"]
        if user:
            argv.append(f"--userspec={user}")
        argv += [self.dir, "/usr/bin/env", "-i"] + [f"{k}={v}" for k, v in e.items()]
        argv += ["/bin/sh", "-c", f"cd {shlex.quote(self.workdir)} && {command}"]
        return subprocess.run(argv, **kw)

    def popen(self, argv, user, env, **kw):
        e = dict(self.env, **env)
        cmd = ["chroot", f"--userspec={user}", self.dir, "/usr/bin/env", "-i"]
        cmd += [f"{k}={v}" for k, v in e.items()] + argv
        return subprocess.Popen(cmd, **kw)

    def unmount(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-R", m], stderr=subprocess.DEVNULL)
        self.mounts = []


def copy_context(stage, dest, srcs):
    pats = dockerignore()
    for src in srcs:
        src = src.rstrip("/") or "."
        base = os.path.normpath(os.path.join(ROOT, src))
        if os.path.isfile(base):
            d = stage.path(dest)
            if dest.endswith("/"):
                os.makedirs(d, exist_ok=True)
                d = os.path.join(d, os.path.basename(base))
            else:
                os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy2(base, d)
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            rel_dir = os.path.relpath(dirpath, ROOT)
            dirnames[:] = [n for n in dirnames
                           if not ignored(os.path.normpath(os.path.join(rel_dir, n)), pats)]
            for fn in filenames:
                rel = os.path.normpath(os.path.join(rel_dir, fn))
                if ignored(rel, pats):
                    continue
                target = stage.path(os.path.join(dest, os.path.relpath(rel, src)))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy2(os.path.join(ROOT, rel), target, follow_symlinks=False)


def build(workdir, stages):
    cur = None
    for word, rest in instructions(DOCKERFILE):
        if word == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            print(f"  FROM {parts[0]} ({name})", flush=True)
            cur = stages[name] = Stage(name, parts[0], workdir)
        elif word in ("ENV", "ARG"):
            k, _, v = rest.partition("=")
            if word == "ENV" or v:
                cur.env[k.strip()] = expand(v.strip().strip('"'), cur.env)
        elif word == "WORKDIR":
            cur.workdir = expand(rest, cur.env)
            os.makedirs(cur.path(cur.workdir), exist_ok=True)
        elif word == "RUN":
            print(f"  RUN {rest[:90]}{'...' if len(rest) > 90 else ''}", flush=True)
            r = cur.run(rest, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode:
                print(r.stdout[-3000:])
                raise RuntimeError(f"RUN failed ({r.returncode}): {rest[:200]}")
        elif word == "COPY":
            args = shlex.split(rest)
            frm = None
            while args[0].startswith("--"):
                flag = args.pop(0)
                if flag.startswith("--from="):
                    frm = flag.split("=", 1)[1]
                else:
                    raise RuntimeError(f"COPY flag {flag} not supported here")
            *srcs, dest = args
            if not dest.startswith("/"):
                dest = os.path.join(cur.workdir, dest)
            if frm:
                for src in srcs:
                    s = stages[frm].path(src)
                    if os.path.isdir(s):
                        sh(["cp", "-a", s.rstrip("/") + "/.", cur.path(dest)])
                    else:
                        sh(["cp", "-a", s, cur.path(dest)])
            else:
                copy_context(cur, dest, srcs)
        elif word == "USER":
            cur.user = rest
        elif word == "ENTRYPOINT":
            cur.entrypoint = json.loads(rest)
        elif word == "CMD":
            cur.cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            cur.healthcheck = json.loads(rest[rest.index("CMD") + 3:].strip())
        elif word in ("EXPOSE", "STOPSIGNAL", "LABEL"):
            pass
        else:
            raise RuntimeError(f"instruction {word} not supported here")
    return cur


# ---- running the image ------------------------------------------------------------------------


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {},
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def wait(pred, secs):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def exercise(img, workdir):
    user = img.user
    ep = img.entrypoint
    for b in ("belfry-gateway", "belfry-router", "belfryctl"):
        r = img.run(f"ldd /usr/local/bin/{b}", capture_output=True, text=True)
        check(f"{b}: every shared library is in the image",
              r.returncode == 0 and "not found" not in r.stdout, r.stdout + r.stderr)
    r = img.run("id -u", user=user, capture_output=True, text=True)
    check("the image's USER is not root", r.stdout.strip() not in ("", "0"), r.stdout)
    for prog in ("gateway", "router"):
        r = subprocess.run(["chroot", f"--userspec={user}", img.dir] + ep + [prog, "--version"],
                           capture_output=True, text=True)
        check(f"ENTRYPOINT {prog} --version", r.returncode == 0 and "belfry" in r.stdout,
              r.stdout + r.stderr)

    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", workdir],
                             stdout=subprocess.DEVNULL)
    procs = [redis]
    try:
        wait(lambda: subprocess.run(["redis-cli", "-p", str(redis_port), "ping"],
                                    capture_output=True).returncode == 0, 10)
        secret, key = "s" * 40, "k" * 32
        gw_listen, rt_listen = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
        common = {"BELFRY_REDIS_URL": f"redis://127.0.0.1:{redis_port}"}
        gw = img.popen(ep + img.cmd, user, dict(common, BELFRY_LISTEN=gw_listen,
                                                BELFRY_JWT_SECRET=secret),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        rt = img.popen(ep + ["router"], user, dict(common, BELFRY_LISTEN=rt_listen,
                                                  BELFRY_API_KEY=key),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        procs += [gw, rt]
        ok = wait(lambda: get(f"http://{gw_listen}/readyz") == 200, 15)
        check("the default CMD (gateway) becomes ready (lws libuv plugin loaded)", ok,
              "not ready" if gw.poll() is None else gw.stdout.read()[-2000:])
        ok = wait(lambda: get(f"http://{rt_listen}/readyz") == 200, 15)
        check("router becomes ready", ok,
              "not ready" if rt.poll() is None else rt.stdout.read()[-2000:])
        st = get(f"http://{rt_listen}/broadcast/news", b'{"event":"e","data":1}',
                 {"Authorization": f"Bearer {key}"})
        check("publish through the router in the image", st == 204, f"status {st}")
        for name, listen in (("gateway", gw_listen), ("router", rt_listen)):
            r = subprocess.run(["chroot", f"--userspec={user}", img.dir, "/usr/bin/env", "-i",
                                f"PATH={PATH}", f"BELFRY_LISTEN={listen}"] + img.healthcheck,
                               capture_output=True, text=True)
            check(f"HEALTHCHECK passes on the {name}", r.returncode == 0, r.stderr)
        r = subprocess.run(["chroot", f"--userspec={user}", img.dir] + ep +
                           ["ctl", "token", "--secret", secret, "--user", "u",
                            "--channel", "presence-x"], capture_output=True, text=True)
        check("ENTRYPOINT ctl token", r.returncode == 0 and r.stdout.count(".") == 2, r.stderr)
        for name, p in (("gateway", gw), ("router", rt)):
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(15)
            except subprocess.TimeoutExpired:
                rc = None
            check(f"{name} exits on SIGTERM", rc == 0, f"exit {rc}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def main():
    if os.geteuid() != 0:
        sys.exit("image_chroot_test: needs root (chroot, bind mounts)")
    if not shutil.which("debootstrap"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True,
                       stdout=subprocess.DEVNULL)
    workdir = tempfile.mkdtemp(prefix="belfry-image-")
    stages = {}
    try:
        t0 = time.monotonic()
        try:
            img = build(workdir, stages)
            check(f"deploy/Dockerfile builds in chroots ({time.monotonic() - t0:.0f}s)", True)
        except (RuntimeError, subprocess.CalledProcessError) as e:
            check("deploy/Dockerfile builds in chroots", False, str(e))
            return
        size = subprocess.run(["du", "-sm", img.dir], capture_output=True, text=True)
        print(f"  runtime root filesystem: {size.stdout.split()[0]} MiB")
        exercise(img, workdir)
    finally:
        for s in stages.values():
            s.unmount()
        # Never delete through a bind mount of /dev, /proc or /sys.
        with open("/proc/mounts") as f:
            still = [line.split()[1] for line in f if line.split()[1].startswith(workdir)]
        if still:
            print(f"  left {workdir} in place: still mounted: {still}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        import traceback

        traceback.print_exc()
        check("image checks ran to the end", False, repr(e))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)
