#!/usr/bin/env python3
"""Static and semi-live checks of the deployment files against the binaries and each other:
docker-compose.yml, deploy/Dockerfile, deploy/haproxy/haproxy.cfg, deploy/k8s/*, .env.example,
scripts/cluster.sh and docs/deploy.md.

The binaries are the reference: environment variable names come from their --help, and every
probe and health-check path used anywhere is requested from a real gateway and router (started
here on free ports against a private redis-server). HAProxy's own parser checks haproxy.cfg
(`haproxy -c`) with the compose environment and with cluster.sh's. `docker compose config` (or
docker-compose) and `kubectl kustomize` are run when present; a missing one is reported as
SKIP, not counted.

Needs python3-yaml and haproxy (installed with apt-get if missing and running as root),
redis-server, and the binaries (BELFRY_BIN_DIR, default build/bin). Prints "N passed, M failed"
last; exits 1 on any failure.
"""
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def apt_install(*pkgs):
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
    return subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *pkgs],
                          env=env, stdout=subprocess.DEVNULL).returncode == 0


try:
    import yaml
except ImportError:
    # Debian's python3-yaml is for Debian's python3; re-run under it.
    if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
        if subprocess.run(["/usr/bin/python3", "-c", "import yaml"],
                          capture_output=True).returncode == 0 or apt_install("python3-yaml"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("manifests_test: needs PyYAML (apt-get install python3-yaml)\n0 passed, 1 failed")

BIN = os.environ.get("BELFRY_BIN_DIR", os.path.join(ROOT, "build", "bin"))
K8S = os.path.join(ROOT, "deploy", "k8s")
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


def skip(name, why):
    print(f"SKIP {name}: {why}", flush=True)


def read(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return f.read()


# ---- the binaries: environment variables, defaults, served paths ------------------------------


def help_env(binary):
    """{ENV_VAR: default or None} from `binary --help`."""
    out = subprocess.run([os.path.join(BIN, binary), "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    env = {}
    for m in re.finditer(r"env (BELFRY_\w+)(?:; default: (\S*))?", out):
        env[m.group(1)] = m.group(2)
    return env


PROG = {"gateway": "belfry-gateway", "router": "belfry-router"}
ENV = {}
for prog, binary in PROG.items():
    if not os.access(os.path.join(BIN, binary), os.X_OK):
        print(f"FAIL {binary} missing in {BIN}: run 'make build' first\n0 passed, 1 failed")
        sys.exit(1)
    ENV[prog] = help_env(binary)
ALL_ENV = set(ENV["gateway"]) | set(ENV["router"])
DEFAULT_PORT = {p: int(ENV[p]["BELFRY_LISTEN"].rsplit(":", 1)[1]) for p in PROG}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
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
        time.sleep(0.05)
    return False


class LiveNodes:
    """A gateway and a router on free ports, to ask which paths they really serve."""

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="belfry-manifests-")
        self.procs = []
        rport = free_port()
        self.procs.append(subprocess.Popen(
            ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir], stdout=subprocess.DEVNULL))
        wait(lambda: subprocess.run(["redis-cli", "-p", str(rport), "ping"],
                                    capture_output=True).returncode == 0, 10)
        self.addr = {}
        for prog, binary in PROG.items():
            port = free_port()
            env = {"PATH": os.environ["PATH"], "BELFRY_LISTEN": f"127.0.0.1:{port}",
                   "BELFRY_REDIS_URL": f"redis://127.0.0.1:{rport}",
                   "BELFRY_API_KEY": "k" * 32, "BELFRY_JWT_SECRET": "s" * 40}
            self.procs.append(subprocess.Popen([os.path.join(BIN, binary)], env=env,
                                               stdout=subprocess.DEVNULL,
                                               stderr=subprocess.DEVNULL))
            self.addr[prog] = f"127.0.0.1:{port}"
        for prog in PROG:
            wait(lambda: http_status(f"http://{self.addr[prog]}/readyz") == 200, 10)
        return self

    def serves(self, prog, path):
        return http_status(f"http://{self.addr[prog]}{path}") == 200

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- parsing helpers --------------------------------------------------------------------------


def entrypoint_programs():
    """The first arguments deploy/docker/entrypoint.sh maps to a daemon."""
    m = re.search(r"^([\w |]+)\) exec \"/usr/local/bin/belfry-\$cmd\"", read(
        "deploy/docker/entrypoint.sh"), re.M)
    return {w.strip() for w in m.group(1).split("|")} if m else set()


def dockerfile():
    """[(stage image, [(INSTRUCTION, args)])] with continuations joined."""
    stages, lines, cur = [], [], ""
    for raw in read("deploy/Dockerfile").splitlines():
        if not cur and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        if raw.endswith("\\"):
            cur += raw[:-1] + " "
            continue
        cur += raw
        word, _, rest = cur.strip().partition(" ")
        lines.append((word.upper(), rest.strip()))
        cur = ""
    for word, rest in lines:
        if word == "FROM":
            stages.append((rest.split()[0], []))
        else:
            stages[-1][1].append((word, rest))
    return stages


def apt_packages(run_args):
    m = re.search(r"apt-get install[^&]*?--no-install-recommends\s+([^&]+)", run_args)
    return m.group(1).split() if m else []


def deps_sh_packages():
    m = re.search(r"PKGS=\(\s*(.*?)\)", read("scripts/deps.sh"), re.S)
    return m.group(1).split()


def dpkg_depends_closure(pkgs):
    """Installed packages reachable from pkgs through Depends/Pre-Depends (this machine is
    Debian 12, the image's release)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Pre-Depends}, ${Depends}\n"],
                         capture_output=True, text=True).stdout
    deps = {}
    for line in out.splitlines():
        name, _, rest = line.partition("\t")
        deps[name] = [c.strip().split(" ")[0].split(":")[0]
                      for alt in rest.split(",") for c in alt.split("|") if c.strip()]
    seen, todo = set(), list(pkgs)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo.extend(deps.get(p, []))
    return seen


def lib_packages(binaries):
    """{binary: {package owning each shared library it loads (ldd)}}, one dpkg -S for all."""
    libs = {}
    for b in binaries:
        out = subprocess.run(["ldd", os.path.join(BIN, b)], capture_output=True, text=True).stdout
        libs[b] = re.findall(r"=> (\S+)", out)
    cands = {}
    for path in {p for ps in libs.values() for p in ps}:
        for c in (path, os.path.realpath(path), "/usr" + path, "/usr" + os.path.realpath(path)):
            cands.setdefault(c, path)
    out = subprocess.run(["dpkg", "-S", *cands], capture_output=True, text=True).stdout
    owner = {}
    for line in out.splitlines():
        pkg, _, path = line.partition(": ")
        if path in cands:
            owner.setdefault(cands[path], pkg.split(":")[0])
    return {b: {owner.get(p, f"?{p}") for p in ps} for b, ps in libs.items()}


def router_routes(live):
    """The HTTP API prefixes of the router: from its source (router/http_api.c), confirmed on
    the live router (a prefix it answers 404 for is not built in yet and is left out)."""
    src = read("router/http_api.c")
    prefixes = sorted(set(re.findall(r'strncmp\(path, "(/[a-z]+/)"', src)))
    routes = [p for p in prefixes if http_status(f"http://{live.addr['router']}{p}x") != 404]
    if not routes:
        check("router API routes found in router/http_api.c", False, f"{prefixes}")
    return routes


def yaml_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def compose_vars(text):
    """Variables interpolated by compose: ${VAR}, ${VAR:-x}, ${VAR:?x}."""
    return set(re.findall(r"\$\{(\w+)(?::?[-?][^}]*)?\}", text))


def haproxy_vars():
    return set(re.findall(r"\$\{(LB_\w+)\}", read("deploy/haproxy/haproxy.cfg")))


def cluster_sh_lb_env():
    """LB_* values scripts/cluster.sh gives HAProxy."""
    return dict(re.findall(r'"(LB_\w+)=([^"]*)"', read("scripts/cluster.sh")))


def cluster_sh_belfry_env():
    """BELFRY_* variables scripts/cluster.sh passes to the daemons."""
    text = read("scripts/cluster.sh")
    names = set(re.findall(r'"(BELFRY_\w+)=', text))
    return {n for n in names if not n.startswith("BELFRY_CLUSTER_")}


# ---- the checks -------------------------------------------------------------------------------


def check_compose(live):
    path = os.path.join(ROOT, "docker-compose.yml")
    try:
        with open(path) as f:
            c = yaml.safe_load(f)
        check("docker-compose.yml parses", isinstance(c, dict) and "services" in c)
    except yaml.YAMLError as e:
        check("docker-compose.yml parses", False, str(e))
        return
    svc = c["services"]
    check("compose has redis, router, gateway and haproxy",
          {"redis", "router", "gateway", "haproxy"} <= set(svc), f"{sorted(svc)}")
    gw = svc.get("gateway", {})
    check("compose gateway can be scaled (no host ports, no container_name)",
          "ports" not in gw and "container_name" not in gw, f"{gw.get('ports')}")
    check("compose runs 3 gateways and 2 routers",
          gw.get("deploy", {}).get("replicas") == 3 and
          svc.get("router", {}).get("deploy", {}).get("replicas") == 2)
    progs = entrypoint_programs()
    image_healthcheck = any(w == "HEALTHCHECK" for _, ins in dockerfile()[-1:] for w, _ in ins)
    for name in ("router", "gateway"):
        s = svc.get(name, {})
        prog = (s.get("command") or ["gateway"])[0]
        check(f"compose {name}: command {prog!r} is a program of the entrypoint",
              prog == name and prog in progs, f"entrypoint knows {sorted(progs)}")
        env = s.get("environment", {})
        unknown = sorted(k for k in env if k not in ENV[name])
        check(f"compose {name}: every environment variable is a flag of belfry-{name}",
              not unknown, f"unknown: {unknown}")
        listen_port = int(str(env.get("BELFRY_LISTEN", "")).rsplit(":", 1)[-1] or 0)
        check(f"compose {name}: BELFRY_LISTEN port is the exposed one",
              [str(listen_port)] == [str(p) for p in s.get("expose", [])], f"{listen_port}")
        redis_host = re.match(r"redis://([^:/]+)", env.get("BELFRY_REDIS_URL", ""))
        check(f"compose {name}: BELFRY_REDIS_URL names the redis service",
              redis_host and redis_host.group(1) in svc, env.get("BELFRY_REDIS_URL"))
        hc = s.get("healthcheck", {}).get("test", [])
        path_ok = len(hc) >= 3 and hc[1] == "/usr/local/bin/belfry-healthcheck"
        check(f"compose {name}: healthcheck {hc[2:]} is served by belfry-{name}",
              path_ok and live.serves(name, hc[2]), f"{hc}")
    check("compose router has the API key, gateway the JWT secret",
          "BELFRY_API_KEY" in svc["router"].get("environment", {}) and
          "BELFRY_JWT_SECRET" in svc["gateway"].get("environment", {}))
    drain = int(ENV["gateway"].get("BELFRY_DRAIN_TIMEOUT") or 10)
    grace = str(gw.get("stop_grace_period", "10s"))
    check("compose gateway stop_grace_period outlasts the drain timeout",
          int(grace.rstrip("s")) > drain, f"{grace} vs drain {drain}s")
    for name, s in svc.items():
        for dep, cond in (s.get("depends_on") or {}).items():
            if not isinstance(cond, dict) or cond.get("condition") != "service_healthy":
                continue
            has = "healthcheck" in svc.get(dep, {}) or (
                "build" in svc.get(dep, {}) and image_healthcheck)
            check(f"compose {name} waits for a healthy {dep}, which has a healthcheck", has)
    check("compose redis has a healthcheck", "healthcheck" in svc.get("redis", {}))

    hp = svc.get("haproxy", {})
    hp_env = {k: str(v) for k, v in hp.get("environment", {}).items()}
    need = haproxy_vars()
    check("compose haproxy sets exactly the variables haproxy.cfg uses",
          set(hp_env) == need, f"cfg {sorted(need)} vs compose {sorted(hp_env)}")
    vols = " ".join(hp.get("volumes", []))
    check("compose haproxy mounts deploy/haproxy/haproxy.cfg",
          "./deploy/haproxy/haproxy.cfg:" in vols, vols)
    for var, svc_name in (("LB_GATEWAY_ADDR", "gateway"), ("LB_ROUTER_ADDR", "router")):
        host, _, port = hp_env.get(var, "").partition(":")
        listen = svc.get(svc_name, {}).get("environment", {}).get("BELFRY_LISTEN", "")
        check(f"compose {var} is the {svc_name} service and its port",
              host == svc_name and port == listen.rsplit(":", 1)[-1], hp_env.get(var))
    check("compose haproxy uses Docker's embedded DNS", hp_env.get("LB_DNS") == "127.0.0.11:53")
    bind_port = hp_env.get("LB_BIND", "").rsplit(":", 1)[-1]
    check("compose publishes HAProxy's bind port",
          any(str(p).endswith(f":{bind_port}") for p in hp.get("ports", [])), f"{hp.get('ports')}")

    text = read("docker-compose.yml")
    example = read(".env.example")
    undocumented = sorted(v for v in compose_vars(text)
                          if not re.search(rf"^#?\s*{v}=", example, re.M))
    check("every variable compose interpolates is in .env.example", not undocumented,
          f"missing: {undocumented}")
    check(".env.example leaves the secrets empty (compose then refuses to start)",
          re.search(r"^BELFRY_API_KEY=$", example, re.M) and
          re.search(r"^BELFRY_JWT_SECRET=$", example, re.M))
    compose_belfry = {k for s in ("router", "gateway") for k in svc[s].get("environment", {})}
    local = cluster_sh_belfry_env()
    check("scripts/cluster.sh passes the daemons the same variables as compose",
          local == compose_belfry, f"only compose: {sorted(compose_belfry - local)}, "
                                   f"only cluster.sh: {sorted(local - compose_belfry)}")
    lb_local = cluster_sh_lb_env()
    check("scripts/cluster.sh sets every variable haproxy.cfg uses",
          set(lb_local) == need, f"{sorted(lb_local)}")

    tool = None
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        tool = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        tool = ["docker-compose"]
    if not tool:
        skip("docker compose config", "neither `docker compose` nor docker-compose installed")
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELFRY_")}
    env.update(BELFRY_API_KEY="k" * 32, BELFRY_JWT_SECRET="s" * 40)
    with tempfile.TemporaryDirectory() as tmp:
        # An empty env file, so that a developer's own .env does not change the outcome.
        empty = os.path.join(tmp, "empty.env")
        open(empty, "w").close()
        base = tool + ["-f", path, "--env-file", empty, "config", "-q"]
        r = subprocess.run(base, capture_output=True, text=True, env=env, cwd=tmp)
        check(f"{' '.join(tool)} config accepts docker-compose.yml", r.returncode == 0,
              r.stderr[-800:])
        del env["BELFRY_API_KEY"]
        r = subprocess.run(base, capture_output=True, text=True, env=env, cwd=tmp)
        check(f"{' '.join(tool)} config refuses to run without BELFRY_API_KEY",
              r.returncode != 0 and "BELFRY_API_KEY" in r.stderr, r.stderr[-400:])


def check_dockerfile(live):
    stages = dockerfile()
    check("Dockerfile: build on debian:12, run on debian:12-slim",
          len(stages) == 2 and
          stages[0][0] == "debian:12" and stages[1][0] == "debian:12-slim",
          f"{[s[0] for s in stages]}")
    build_pkgs = [p for w, a in stages[0][1] if w == "RUN" for p in apt_packages(a)]
    run_pkgs = [p for w, a in stages[1][1] if w == "RUN" for p in apt_packages(a)]
    deps = deps_sh_packages()
    dev = {p for p in deps if p.endswith("-dev") and p != "libcriterion-dev"}
    check("Dockerfile build stage installs every -dev package of scripts/deps.sh",
          dev <= set(build_pkgs), f"missing: {sorted(dev - set(build_pkgs))}")
    check("Dockerfile build stage installs nothing scripts/deps.sh lacks",
          set(build_pkgs) <= set(deps), f"extra: {sorted(set(build_pkgs) - set(deps))}")
    closure = dpkg_depends_closure(run_pkgs)
    for b, need in lib_packages(["belfry-gateway", "belfry-router", "belfryctl"]).items():
        check(f"Dockerfile runtime packages provide every library of {b}", need <= closure,
              f"missing: {sorted(need - closure)}")
    check("Dockerfile runtime installs the lws libuv plugin (loaded with dlopen)",
          "libwebsockets-evlib-uv" in run_pkgs)
    installed = set(subprocess.run(["dpkg-query", "-W", "-f=${Package}\n", *run_pkgs],
                                   capture_output=True, text=True).stdout.split())
    unknown = [p for p in run_pkgs if p not in installed and subprocess.run(
        ["apt-cache", "show", p], capture_output=True).returncode != 0]
    check("Dockerfile runtime packages exist in Debian 12", not unknown, f"{unknown}")
    check("Dockerfile runtime stage has no compiler or -dev package",
          not [p for p in run_pkgs if p.endswith("-dev") or p in ("build-essential", "cmake")])
    final = dict()
    for w, a in stages[1][1]:
        final.setdefault(w, []).append(a)
    user = (final.get("USER") or [""])[-1]
    check("Dockerfile USER is numeric and not root",
          re.fullmatch(r"[1-9]\d*(:\d+)?", user) is not None, user)
    check("Dockerfile STOPSIGNAL SIGTERM", final.get("STOPSIGNAL") == ["SIGTERM"])
    hc = (final.get("HEALTHCHECK") or [""])[-1]
    m = re.search(r'CMD \["(/usr/local/bin/belfry-healthcheck)", "(/\w+)"\]', hc)
    check("Dockerfile HEALTHCHECK runs belfry-healthcheck on /healthz",
          m and m.group(2) == "/healthz" and live.serves("gateway", "/healthz") and
          live.serves("router", "/healthz"), hc)
    copies = final.get("COPY", [])
    dests = {a.split()[-1] for a in copies}
    check("Dockerfile installs the entrypoint and healthcheck scripts",
          {"/usr/local/bin/belfry-entrypoint", "/usr/local/bin/belfry-healthcheck"} <= dests,
          f"{sorted(dests)}")
    for a in copies:
        if a.startswith("--from"):
            continue
        src = a.split()[0]
        check(f"Dockerfile COPY source {src} exists and is executable",
              os.access(os.path.join(ROOT, src), os.X_OK))
    cmd = (final.get("CMD") or ['[""]'])[-1]
    check("Dockerfile CMD names a program of the entrypoint",
          re.match(r'\["(\w+)"', cmd) and re.match(r'\["(\w+)"', cmd).group(1) in
          entrypoint_programs(), cmd)
    expose = {int(p) for a in final.get("EXPOSE", []) for p in a.split()}
    check("Dockerfile EXPOSEs the binaries' default ports", expose == set(DEFAULT_PORT.values()),
          f"{expose} vs {DEFAULT_PORT}")
    ign = read(".dockerignore").split()
    check(".dockerignore keeps build trees, .git and .env out of the context",
          {".git", ".env", "build", "build-*", ".run"} <= set(ign), f"{ign}")


def k8s_objects():
    objs = []
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
        if os.path.basename(path) == "kustomization.yaml":
            continue
        try:
            docs = yaml_docs(path)
            check(f"deploy/k8s/{os.path.basename(path)} parses", bool(docs))
        except yaml.YAMLError as e:
            check(f"deploy/k8s/{os.path.basename(path)} parses", False, str(e))
            continue
        for d in docs:
            d["_file"] = os.path.basename(path)
            objs.append(d)
    return objs


def pod_spec(o):
    return o.get("spec", {}).get("template", {}).get("spec", {})


def check_k8s(live):
    try:
        kust = yaml_docs(os.path.join(K8S, "kustomization.yaml"))[0]
        check("deploy/k8s/kustomization.yaml parses", True)
    except (yaml.YAMLError, IndexError) as e:
        check("deploy/k8s/kustomization.yaml parses", False, str(e))
        return
    files = {os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*"))} - {
        "kustomization.yaml"}
    res = set(kust.get("resources", []))
    check("kustomization lists every file in deploy/k8s, and only those", res == files,
          f"unlisted: {sorted(files - res)}, missing: {sorted(res - files)}")
    objs = k8s_objects()
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.get("kind"), []).append(o)
        check(f"{o['_file']}: {o.get('kind')} {o.get('metadata', {}).get('name')} has "
              "apiVersion, kind, metadata.name",
              o.get("apiVersion") and o.get("kind") and o.get("metadata", {}).get("name"))
    for kind in ("Namespace", "ConfigMap", "Secret", "StatefulSet", "Deployment", "Service",
                 "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress"):
        check(f"deploy/k8s has a {kind}", kind in by_kind)
    ns = by_kind.get("Namespace", [{}])[0].get("metadata", {}).get("name")
    check("kustomization namespace is the Namespace object", kust.get("namespace") == ns)

    cm = {k: str(v) for o in by_kind.get("ConfigMap", []) for k, v in o.get("data", {}).items()}
    cm_name = by_kind.get("ConfigMap", [{}])[0].get("metadata", {}).get("name")
    sec_obj = by_kind.get("Secret", [{}])[0]
    sec = set(sec_obj.get("stringData", {})) | set(sec_obj.get("data", {}))
    sec_name = sec_obj.get("metadata", {}).get("name")
    check("the example Secret is marked as such",
          all("EXAMPLE" in str(v) for v in sec_obj.get("stringData", {}).values()) and
          "example" in read("deploy/k8s/secret.example.yaml").lower())
    unknown_cm = sorted(k for k in cm if k not in ALL_ENV)
    check("every ConfigMap key is an environment variable of the binaries", not unknown_cm,
          f"{unknown_cm}")
    check("every Secret key is an environment variable of the binaries", sec <= ALL_ENV,
          f"{sorted(sec - ALL_ENV)}")

    workloads = by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])
    images = {i["name"] for i in kust.get("images", [])}
    progs = entrypoint_programs()
    uid = re.match(r"(\d+)", [a for w, a in dockerfile()[-1][1] if w == "USER"][-1]).group(1)
    used_cm, used_sec = set(), set()
    for w in workloads:
        name = w["metadata"]["name"]
        sel = w["spec"]["selector"]["matchLabels"]
        labels = w["spec"]["template"]["metadata"]["labels"]
        check(f"{name}: selector matches the pod labels",
              all(labels.get(k) == v for k, v in sel.items()))
        spec = pod_spec(w)
        for c in spec.get("containers", []):
            cname = f"{name}/{c['name']}"
            res_ = c.get("resources", {})
            check(f"{cname}: resource requests and a memory limit",
                  res_.get("requests", {}).get("cpu") and res_.get("requests", {}).get("memory")
                  and res_.get("limits", {}).get("memory"))
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for kind in ("readinessProbe", "livenessProbe"):
                pr = c.get(kind, {})
                if "httpGet" in pr:
                    check(f"{cname}: {kind} port {pr['httpGet']['port']} is a container port",
                          pr["httpGet"]["port"] in ports or pr["httpGet"]["port"] in
                          ports.values())
            for e in c.get("env", []):
                ref = e.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    r = ref["configMapKeyRef"]
                    used_cm.add(r["key"])
                    check(f"{cname}: {e['name']} from ConfigMap key {r['key']}",
                          r["name"] == cm_name and r["key"] in cm)
                if "secretKeyRef" in ref:
                    r = ref["secretKeyRef"]
                    used_sec.add(r["key"])
                    check(f"{cname}: {e['name']} from Secret key {r['key']}",
                          r["name"] == sec_name and r["key"] in sec)
            if c.get("image") not in images:
                continue
            # A Belfry container.
            prog = (c.get("args") or ["gateway"])[0]
            check(f"{cname}: args[0] {prog!r} is a program of the entrypoint", prog in progs)
            if prog not in ENV:
                continue
            unknown = sorted(e["name"] for e in c.get("env", []) if e["name"] not in ENV[prog])
            check(f"{cname}: every env var is a flag of belfry-{prog}", not unknown,
                  f"{unknown}")
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            lport = int((env.get("BELFRY_LISTEN") or f":{DEFAULT_PORT[prog]}").rsplit(":", 1)[1])
            check(f"{cname}: BELFRY_LISTEN port is the container port", lport in ports.values(),
                  f"{lport} vs {ports}")
            rp = c.get("readinessProbe", {}).get("httpGet", {}).get("path")
            lp = c.get("livenessProbe", {}).get("httpGet", {}).get("path")
            check(f"{cname}: readiness /readyz and liveness /healthz, both served",
                  rp == "/readyz" and lp == "/healthz" and live.serves(prog, rp) and
                  live.serves(prog, lp), f"{rp} {lp}")
            sc = spec.get("securityContext", {})
            check(f"{cname}: runs as the image's non-root user",
                  sc.get("runAsNonRoot") and str(sc.get("runAsUser")) == uid)
            if prog == "gateway":
                pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
                pause = int(pre[1]) if len(pre) == 2 and pre[0] == "sleep" else 0
                drain = int(cm.get("BELFRY_DRAIN_TIMEOUT", 10))
                grace = spec.get("terminationGracePeriodSeconds", 30)
                check(f"{cname}: terminationGracePeriodSeconds covers preStop + drain",
                      pause > 0 and grace >= pause + drain + 1,
                      f"grace {grace}, preStop {pause}, drain {drain}")
    check("every ConfigMap key is used by a container", set(cm) <= used_cm,
          f"unused: {sorted(set(cm) - used_cm)}")
    check("every Secret key is used by a container", sec <= used_sec,
          f"unused: {sorted(sec - used_sec)}")
    redis_host = re.match(r"redis://([^:/]+)", cm.get("BELFRY_REDIS_URL", ""))
    services = {s["metadata"]["name"]: s for s in by_kind.get("Service", [])}
    check("ConfigMap BELFRY_REDIS_URL names a Service",
          redis_host and redis_host.group(1) in services, cm.get("BELFRY_REDIS_URL"))

    def workload_for(selector):
        for w in workloads:
            labels = w["spec"]["template"]["metadata"]["labels"]
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                return w
        return None

    for sname, s in services.items():
        w = workload_for(s["spec"].get("selector"))
        ok = w is not None
        if ok:
            cports = {p.get("name"): p["containerPort"] for c in pod_spec(w)["containers"]
                      for p in c.get("ports", [])}
            ok = all(p.get("targetPort") in cports or p.get("targetPort") in cports.values()
                     for p in s["spec"]["ports"])
        check(f"Service {sname} selects a workload and targets its ports", ok)
    for sts in by_kind.get("StatefulSet", []):
        check(f"StatefulSet {sts['metadata']['name']} has its governing Service",
              sts["spec"].get("serviceName") in services)
    for pdb in by_kind.get("PodDisruptionBudget", []):
        check(f"PodDisruptionBudget {pdb['metadata']['name']} selects a workload",
              workload_for(pdb["spec"]["selector"]["matchLabels"]) is not None)
    deployments = {d["metadata"]["name"] for d in by_kind.get("Deployment", [])}
    for hpa in by_kind.get("HorizontalPodAutoscaler", []):
        check(f"HorizontalPodAutoscaler {hpa['metadata']['name']} targets a Deployment",
              hpa["spec"]["scaleTargetRef"]["name"] in deployments)
    for ing in by_kind.get("Ingress", []):
        ann = ing["metadata"].get("annotations", {})
        check("Ingress has WebSocket timeouts longer than the ping interval",
              int(ann.get("nginx.ingress.kubernetes.io/proxy-read-timeout", 60)) >
              int(ENV["gateway"].get("BELFRY_PING_INTERVAL") or 25) and
              int(ann.get("nginx.ingress.kubernetes.io/proxy-send-timeout", 60)) > 60)
        paths = {}
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                b = p["backend"]["service"]
                paths[p["path"]] = b["name"]
                svc_ = services.get(b["name"])
                names = {pp.get("name") for pp in svc_["spec"]["ports"]} if svc_ else set()
                check(f"Ingress {p['path']} -> Service {b['name']} port {b['port']}",
                      svc_ is not None and b["port"].get("name") in names)
        for prefix in router_routes(live):
            check(f"Ingress sends {prefix} (a router route) to the routers",
                  paths.get(prefix) == "belfry-router", f"{paths}")
        check("Ingress sends /ws/ and / to the gateways",
              paths.get("/ws/") == "belfry-gateway" and paths.get("/") == "belfry-gateway",
              f"{paths}")

    if shutil.which("kubectl"):
        r = subprocess.run(["kubectl", "kustomize", K8S], capture_output=True, text=True,
                           timeout=60)
        out = list(yaml.safe_load_all(r.stdout)) if r.returncode == 0 else []
        check("kubectl kustomize deploy/k8s builds every object",
              r.returncode == 0 and len(out) == len(objs), r.stderr[-800:])
    else:
        skip("kubectl kustomize", "kubectl not installed")


def check_haproxy(live):
    if not shutil.which("haproxy") and not apt_install("haproxy"):
        check("haproxy is installed", False, "apt-get install haproxy")
        return
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        compose_env = {k: str(v) for k, v in
                       yaml.safe_load(f)["services"]["haproxy"]["environment"].items()}
    cfg = os.path.join(ROOT, "deploy", "haproxy", "haproxy.cfg")
    local = cluster_sh_lb_env()
    local_env = {k: re.sub(r"\$\w+|\$\{\w+\}", "12345", v) for k, v in local.items()}
    variants = {"the compose environment": compose_env,
                "scripts/cluster.sh's environment (A records)": local_env,
                "scripts/cluster.sh's environment (SRV records)":
                    dict(local_env, LB_GATEWAY_ADDR="_gateway._tcp.belfry.local")}
    for what, env in variants.items():
        r = subprocess.run(["haproxy", "-c", "-f", cfg], capture_output=True, text=True,
                           env=dict({"PATH": os.environ["PATH"]}, **env))
        check(f"haproxy -c accepts haproxy.cfg with {what}", r.returncode == 0,
              (r.stdout + r.stderr)[-800:])
    text = read("deploy/haproxy/haproxy.cfg")
    acl = re.search(r"acl is_api path_beg (.*)", text)
    acl = set(acl.group(1).split()) if acl else set()
    for prefix in router_routes(live):
        check(f"haproxy.cfg sends {prefix} (a router route) to the routers", prefix in acl,
              f"acl is_api: {sorted(acl)}")
    checks = re.findall(r"http-check send meth GET uri (\S+)", text)
    check("haproxy.cfg health-checks /readyz, which both binaries serve",
          checks and all(p == "/readyz" and live.serves("gateway", p) and
                         live.serves("router", p) for p in checks), f"{checks}")
    check("haproxy.cfg discovers servers through DNS (server-template + resolvers)",
          len(re.findall(r"^\s*server-template ", text, re.M)) == 2 and
          re.search(r"^resolvers ", text, re.M) and "resolvers dns" in text)
    check("haproxy.cfg has a tunnel timeout for WebSockets",
          re.search(r"^\s*timeout tunnel\s+(\d+h|\d{3,}s)", text, re.M) is not None)


def check_scripts_and_docs():
    r = subprocess.run(["bash", "-n", os.path.join(ROOT, "scripts", "cluster.sh")],
                       capture_output=True, text=True)
    check("scripts/cluster.sh is valid bash", r.returncode == 0, r.stderr)
    if shutil.which("shellcheck"):
        for f in ("scripts/cluster.sh", "tests/deploy/cluster_test.sh",
                  "deploy/docker/healthcheck.sh", "deploy/docker/entrypoint.sh"):
            r = subprocess.run(["shellcheck", "-S", "warning", os.path.join(ROOT, f)],
                               capture_output=True, text=True)
            check(f"shellcheck {f}", r.returncode == 0, r.stdout[-800:])
    else:
        skip("shellcheck", "not installed")
    r = subprocess.run(["sh", "-n", os.path.join(ROOT, "deploy", "docker", "entrypoint.sh")],
                       capture_output=True, text=True)
    check("deploy/docker/entrypoint.sh is valid POSIX sh", r.returncode == 0, r.stderr)
    doc = read("docs/deploy.md")
    missing = sorted(v for v in ALL_ENV if v not in doc)
    check("docs/deploy.md documents every environment variable of the binaries", not missing,
          f"missing: {missing}")


def main():
    with LiveNodes() as live:
        ready = all(live.serves(p, "/readyz") for p in PROG)
        check("a live gateway and router answer for the path checks", ready)
        for section in (check_compose, check_dockerfile, check_k8s, check_haproxy):
            try:
                section(live)
            except Exception as e:  # a crash in one section is one failure, not the end
                import traceback

                traceback.print_exc()
                check(f"{section.__name__} ran to the end", False, repr(e))
    check_scripts_and_docs()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        import traceback

        traceback.print_exc()
        check("manifests checks ran to the end", False, repr(e))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not passed else 0)
