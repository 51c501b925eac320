"""What the client tests and the pod start benchmark share, in the VM: images built
from the guest's busybox-static, a containerd daemon of the test's own (root, state
dir, socket, CRI runtime handlers), and a CRI client over its gRPC socket.

    rootfs = clients.busybox_rootfs()
    clients.oci_archive(rootfs, "localhost/skiff/busybox:1", path, cmd=["sh"])
    d = clients.Containerd(handlers={"skiff": vmtest.SKIFF, "runc": "/usr/sbin/runc"})
    d.start(); d.ctr("images", "import", path); cri = d.cri(); ...; d.stop()
"""

import hashlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import vmtest
from vmtest import sh

HERE = os.path.dirname(os.path.abspath(__file__))
CRI_PROTO = os.path.join(HERE, "cri", "runtime_v1.proto")
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# A pod's images, both busybox: the sandbox ("pause") sleeps, so does the container.
PAUSE_IMAGE = "localhost/skiff/pause:1"
BUSYBOX_IMAGE = "localhost/skiff/busybox:1"
POD_IMAGES = ((PAUSE_IMAGE, ["sleep", "2147483647"]), (BUSYBOX_IMAGE, ["sleep", "3600"]))


def busybox_rootfs():
    """A busybox rootfs on the guest's disk (scripts/make-bundle.sh, cached)."""
    d = os.path.join(vmtest.WORK, "busybox-image")
    sh(os.path.join(vmtest.REPO, "scripts/make-bundle.sh"), d, check=True)
    return os.path.join(d, "rootfs")


def _layer(rootfs):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(os.listdir(rootfs)):
            t.add(os.path.join(rootfs, name), arcname=name)
    return buf.getvalue()


def rootfs_tarball(rootfs, path):
    """A plain tar of ROOTFS (what `podman import` and `docker import` take)."""
    with open(path, "wb") as f:
        f.write(_layer(rootfs))
    return path


def oci_archive(rootfs, name, path, cmd, entrypoint=None):
    """An OCI image layout archive of ROOTFS as one layer, named NAME for
    `ctr images import` (the io.containerd.image.name annotation)."""
    layer = _layer(rootfs)
    blobs = {}

    def blob(data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return {"digest": digest, "size": len(data)}

    lay = blob(layer)
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": [PATH_ENV], "Cmd": cmd, "Entrypoint": entrypoint, "WorkingDir": "/"},
              "rootfs": {"type": "layers", "diff_ids": [lay["digest"]]}}
    cfg = blob(json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **lay}]}
    man = blob(json.dumps(manifest).encode())
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", **man,
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}}]}
    with tarfile.open(path, "w") as t:
        def add(arcname, data):
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        add("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        add("index.json", json.dumps(index).encode())
        for digest, data in blobs.items():
            add("blobs/sha256/" + digest.split(":", 1)[1], data)
    return path


class Containerd:
    """A containerd of the caller's own: root, state, socket and config under a temp
    dir on the guest's disk; the CRI plugin has one runtime handler per HANDLERS entry
    (name -> runtime binary), each the runc shim with BinaryName and SystemdCgroup."""

    def __init__(self, handlers, systemd_cgroup=True, sandbox_image=PAUSE_IMAGE):
        os.makedirs(vmtest.WORK, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="containerd-", dir=vmtest.WORK)
        self.state = tempfile.mkdtemp(prefix="containerd-state-", dir="/run")
        self.socket = os.path.join(self.state, "containerd.sock")
        self.config = os.path.join(self.dir, "config.toml")
        self.proc = None
        lines = [
            "version = 2",
            f'root = "{self.dir}/root"',
            f'state = "{self.state}"',
            "[grpc]",
            f'  address = "{self.socket}"',
            "[ttrpc]",
            f'  address = "{self.socket}.ttrpc"',
            '[plugins."io.containerd.grpc.v1.cri"]',
            f'  sandbox_image = "{sandbox_image}"',
            '  [plugins."io.containerd.grpc.v1.cri".cni]',
            f'    bin_dir = "{self.dir}/cni-bin"',
            f'    conf_dir = "{self.dir}/cni-conf"',
            '  [plugins."io.containerd.grpc.v1.cri".containerd]',
            f'    default_runtime_name = "{next(iter(handlers))}"',
        ]
        for name, binary in handlers.items():
            key = f'[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}'
            lines += [f"    {key}]",
                      '      runtime_type = "io.containerd.runc.v2"',
                      f"      {key}.options]",
                      f'        BinaryName = "{binary}"',
                      f"        SystemdCgroup = {'true' if systemd_cgroup else 'false'}"]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=120):
        self.log = open(os.path.join(self.dir, "containerd.log"), "wb")
        self.proc = subprocess.Popen(["containerd", "--config", self.config], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"containerd exited {self.proc.returncode}:\n{self.log_tail()}")
            if os.path.exists(self.socket) and self.ctr("version").returncode == 0:
                return self
            time.sleep(0.2)
        raise AssertionError(f"containerd did not answer on {self.socket} in {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n=40):
        try:
            with open(os.path.join(self.dir, "containerd.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def ctr(self, *args, namespace="k8s.io", timeout=vmtest.TIMEOUT):
        return sh("ctr", "--address", self.socket, "--namespace", namespace, *args, timeout=timeout)

    def import_image(self, name, cmd, namespace="k8s.io"):
        """A busybox image NAME whose command is CMD, packed and imported into NAMESPACE."""
        archive = os.path.join(self.dir, name.rsplit("/", 1)[1].replace(":", "-") + ".tar")
        oci_archive(busybox_rootfs(), name, archive, cmd=cmd)
        r = self.ctr("images", "import", archive, namespace=namespace)
        if r.returncode != 0:
            raise AssertionError("ctr images import: " + vmtest.describe(r))

    def cri(self):
        return CRI(self.socket)

    def stop(self):
        """Stops the daemon (its shims and their containers go with the test's cleanup)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # Shims outlive containerd; kill any left with our socket in their command line.
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"containerd-shim" in cmd and self.socket.encode() in cmd:
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
        sh("umount", "-R", "-l", os.path.join(self.dir, "root"))
        sh("umount", "-R", "-l", self.state)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.state, ignore_errors=True)


_pb = None


def cri_messages():
    """The CRI messages, compiled from CRI_PROTO with protoc into a temp dir once."""
    global _pb
    if _pb is None:
        out = tempfile.mkdtemp(prefix="cri-pb-")
        sh("protoc", f"--proto_path={os.path.dirname(CRI_PROTO)}", f"--python_out={out}", CRI_PROTO, check=True)
        sys.path.insert(0, out)
        _pb = importlib.import_module("runtime_v1_pb2")
    return _pb


class CRI:
    """RuntimeService calls over the CRI socket, as the kubelet makes them:
    cri.call("RunPodSandbox", config=..., runtime_handler="skiff")."""

    def __init__(self, socket):
        import grpc
        self.pb = cri_messages()
        self.channel = grpc.insecure_channel("unix://" + socket)

    def call(self, method, deadline=vmtest.TIMEOUT, **fields):
        """METHOD with FIELDS (any field, `timeout` included); DEADLINE bounds the call.
        A failed call raises AssertionError with what containerd (and the runtime) said."""
        request = getattr(self.pb, method + "Request")(**fields)
        stub = self.channel.unary_unary(f"/runtime.v1.RuntimeService/{method}",
                                        request_serializer=type(request).SerializeToString,
                                        response_deserializer=getattr(self.pb, method + "Response").FromString)
        try:
            return stub(request, timeout=deadline)
        except Exception as e:  # grpc.RpcError: its details() carry the runtime's error
            details = e.details() if hasattr(e, "details") else str(e)
            raise AssertionError(f"CRI {method} failed: {details}") from None

    def pod_config(self, name, uid, host_network=True):
        pb = self.pb
        ns = pb.NamespaceOption(network=pb.NODE if host_network else pb.POD, pid=pb.CONTAINER, ipc=pb.POD)
        return pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace="skiff-tests", attempt=0),
            # As the kubelet: a host-network pod has the node's UTS namespace, so no hostname
            # (runc and skiff refuse a hostname without a UTS namespace).
            hostname="" if host_network else name, log_directory=os.path.join(vmtest.WORK, "pod-logs", uid),
            linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))

    def container_config(self, name, image, args, memory=0, tty=False):
        pb = self.pb
        return pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=image), args=args,
            log_path=f"{name}.log", tty=tty,
            linux=pb.LinuxContainerConfig(resources=pb.LinuxContainerResources(memory_limit_in_bytes=memory)))

    def close(self):
        self.channel.close()
