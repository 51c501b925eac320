"""Kubernetes' path: containerd 1.6's CRI plugin with runtime handlers `skiff` and `runc`
(runtime_type io.containerd.runc.v2, options BinaryName and SystemdCgroup = true),
driven over the CRI gRPC socket as the kubelet drives it (clients.CRI, messages from
Tests/VM/cri/runtime_v1.proto compiled with protoc at test time). The pod has the
host's network (NamespaceMode NODE), so no CNI config is needed; the pause image is
busybox running `sleep`. The runc handler's binary is the logging wrapper: the calls
the shim makes are printed at the end of the module.
"""

import os

import clients
import engines
import vmtest
from vmtest import describe, unique_id

PAUSE = clients.PAUSE_IMAGE
BUSYBOX = clients.BUSYBOX_IMAGE
SLICE = "skifftest.slice"
D = None
CRI = None
RUNC_LOG = None


def setUpModule():
    global D, CRI, RUNC_LOG
    engines.need("containerd")
    engines.need("protoc")
    try:
        import grpc  # noqa: F401
        import google.protobuf  # noqa: F401
    except ImportError as e:
        raise AssertionError(f"python3-grpcio / python3-protobuf missing from the VM image: {e}")
    RUNC_LOG = engines.RuntimeLog("containerd-cri")
    D = clients.Containerd(handlers={"skiff": vmtest.SKIFF, "runc": RUNC_LOG.binary}, sandbox_image=PAUSE)
    try:
        D.start()
        for name, cmd in clients.POD_IMAGES:
            D.import_image(name, cmd)
        CRI = D.cri()
    except BaseException:
        D.stop()
        RUNC_LOG.remove()
        raise


def tearDownModule():
    try:
        RUNC_LOG.report()
        CRI.close()
        for name in (PAUSE, BUSYBOX):
            D.ctr("images", "rm", name)
    finally:
        D.stop()
        RUNC_LOG.remove()
        vmtest.sh("systemctl", "stop", SLICE)


@engines.per_runtime
class CRIPod(vmtest.TestCase):

    def rt(self, name):
        return engines.runtime(name, RUNC_LOG)

    def call(self, method, **fields):
        """clients.CRI.call, with containerd's last log lines when it fails."""
        try:
            return CRI.call(method, **fields)
        except AssertionError as e:
            raise AssertionError(f"{e}\ncontainerd log:\n{D.log_tail(15)}") from None

    def exec_sync(self, cid, *cmd):
        return self.call("ExecSync", container_id=cid, cmd=list(cmd), timeout=60)

    def cgroup_file(self, cid, name):
        """The container's cgroup file NAME, read from inside when it has its own cgroup
        namespace (containerd 1.6 gives one on cgroup v2), else from the host."""
        own = self.exec_sync(cid, "cat", "/proc/self/cgroup").stdout.decode().strip()
        if own == "0::/":
            r = self.exec_sync(cid, "cat", f"/sys/fs/cgroup/{name}")
            return r.stdout.decode().strip()
        return vmtest.read_cgroup(own[3:], name)

    def scenario_pod_lifecycle(self, rt):
        """RunPodSandbox, CreateContainer, StartContainer, ExecSync, ContainerStats,
        UpdateContainerResources, StopContainer, RemoveContainer, StopPodSandbox,
        RemovePodSandbox, with the runtime handler RT."""
        pb = CRI.pb
        uid = unique_id("t")
        config = CRI.pod_config(f"pod-{rt.name}", uid)
        config.linux.cgroup_parent = SLICE
        config.hostname = ""  # as the kubelet for a host-network pod: the host's UTS namespace
        os.makedirs(config.log_directory, exist_ok=True)
        self.addCleanup(lambda: __import__("shutil").rmtree(config.log_directory, ignore_errors=True))

        sid = self.call("RunPodSandbox", config=config, runtime_handler=rt.name).pod_sandbox_id
        removed = []

        def cleanup():
            if not removed:
                CRI.call("StopPodSandbox", pod_sandbox_id=sid)
                CRI.call("RemovePodSandbox", pod_sandbox_id=sid)
        self.addCleanup(cleanup)

        cconfig = CRI.container_config("c", BUSYBOX, ["sleep", "3600"])
        cconfig.envs.add(key="SKIFF_TEST", value=rt.name)
        cconfig.working_dir = "/tmp"
        cid = self.call("CreateContainer", pod_sandbox_id=sid, config=cconfig, sandbox_config=config).container_id
        self.call("StartContainer", container_id=cid)
        st = self.call("ContainerStatus", container_id=cid).status
        self.assertEqual(st.state, pb.CONTAINER_RUNNING, str(st))
        if rt.name == "skiff":
            # The shim's runtime root: skiff made this container (runc would not know it).
            r = vmtest.sh(vmtest.SKIFF, "--root", "/run/containerd/runc/k8s.io", "state", cid)
            self.assertEqual(r.returncode, 0, describe(r))

        r = self.exec_sync(cid, "sh", "-c", "echo out $SKIFF_TEST $(pwd); echo err >&2; exit 3")
        self.assertEqual((r.stdout, r.stderr, r.exit_code), (f"out {rt.name} /tmp\n".encode(), b"err\n", 3))

        stats = self.call("ContainerStats", container_id=cid).stats
        self.assertEqual(stats.attributes.id, cid)
        self.assertGreater(stats.memory.working_set_bytes.value, 0, str(stats))
        self.assertGreater(stats.cpu.usage_core_nano_seconds.value, 0, str(stats))

        self.call("UpdateContainerResources", container_id=cid, linux=pb.LinuxContainerResources(
            memory_limit_in_bytes=96 << 20, cpu_period=100000, cpu_quota=50000, cpu_shares=512))
        self.assertEqual(self.cgroup_file(cid, "memory.max"), str(96 << 20))
        self.assertEqual(self.cgroup_file(cid, "cpu.max"), "50000 100000")

        self.call("StopContainer", container_id=cid, timeout=5)
        st = self.call("ContainerStatus", container_id=cid).status
        self.assertEqual(st.state, pb.CONTAINER_EXITED, str(st))
        self.call("RemoveContainer", container_id=cid)
        self.call("StopPodSandbox", pod_sandbox_id=sid)
        self.call("RemovePodSandbox", pod_sandbox_id=sid)
        removed.append(sid)
        left = [c for c in D.ctr("containers", "ls", "-q").stdout.split() if c in (sid, cid)]
        self.assertEqual(left, [], "containerd still has the pod's containers")
