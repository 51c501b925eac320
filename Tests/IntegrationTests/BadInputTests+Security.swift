import Foundation
import XCTest

/// linux.seccomp refusals: exit 1, the field named, nothing left behind.
extension BadInputTests {
    func testSeccompRefusals() {
        func seccomp(_ s: [String: Any]) -> (inout [String: Any]) -> Void {
            { c in self.editLinux(&c) { $0["seccomp"] = s } }
        }
        let allow = "SCMP_ACT_ALLOW"
        assertConfigRefused("missing defaultAction", mentions: ["linux.seccomp.defaultAction"], seccomp([:]))
        assertConfigRefused("unknown default action", mentions: ["linux.seccomp.defaultAction", "SCMP_ACT_MAYBE"],
                            seccomp(["defaultAction": "SCMP_ACT_MAYBE"]))
        assertConfigRefused("unknown rule action", mentions: ["linux.seccomp.syscalls[0].action", "SCMP_ACT_NOPE"],
                            seccomp(["defaultAction": allow, "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_NOPE"]]]))
        assertConfigRefused("unknown operator", mentions: ["linux.seccomp.syscalls[0].args[0].op", "SCMP_CMP_ABOUT"],
                            seccomp(["defaultAction": allow, "syscalls": [["names": ["kill"], "action": "SCMP_ACT_ERRNO",
                                                                           "args": [["index": 1, "value": 9, "op": "SCMP_CMP_ABOUT"]]]]]))
        assertConfigRefused("argument index", mentions: ["linux.seccomp.syscalls[0].args[0].index"],
                            seccomp(["defaultAction": allow, "syscalls": [["names": ["kill"], "action": "SCMP_ACT_ERRNO",
                                                                           "args": [["index": 6, "value": 9, "op": "SCMP_CMP_EQ"]]]]]))
        assertConfigRefused("unknown arch", mentions: ["linux.seccomp.architectures[1]", "SCMP_ARCH_Z80"],
                            seccomp(["defaultAction": allow, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]]))
        assertConfigRefused("unknown flag", mentions: ["linux.seccomp.flags[0]", "SECCOMP_FILTER_FLAG_FAST"],
                            seccomp(["defaultAction": allow, "flags": ["SECCOMP_FILTER_FLAG_FAST"]]))
        assertConfigRefused("errnoRet on allow", mentions: ["linux.seccomp.syscalls[0].errnoRet"],
                            seccomp(["defaultAction": "SCMP_ACT_ERRNO", "syscalls": [["names": ["mkdir"], "action": allow, "errnoRet": 5]]]))
        assertConfigRefused("defaultErrnoRet on kill", mentions: ["linux.seccomp.defaultErrnoRet"],
                            seccomp(["defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 5]))
        assertConfigRefused("empty names", mentions: ["linux.seccomp.syscalls[0].names"],
                            seccomp(["defaultAction": allow, "syscalls": [["names": [String](), "action": "SCMP_ACT_ERRNO"]]]))
        assertConfigRefused("notify default", mentions: ["linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY"],
                            seccomp(["defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/tmp/x.sock"]))
        assertConfigRefused("notify on write", mentions: ["linux.seccomp.syscalls[0].action", "write"],
                            seccomp(["defaultAction": allow, "listenerPath": "/tmp/x.sock",
                                     "syscalls": [["names": ["write"], "action": "SCMP_ACT_NOTIFY"]]]))
        assertConfigRefused("notify without listener", mentions: ["linux.seccomp.listenerPath"],
                            seccomp(["defaultAction": allow, "syscalls": [["names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"]]]))
        assertConfigRefused("metadata without listener", mentions: ["linux.seccomp.listenerMetadata"],
                            seccomp(["defaultAction": allow, "listenerMetadata": "x"]))
    }
}

/// AppArmor and SELinux asked for on a host without them (this one has neither):
/// refused before anything is made, naming the field. runc refuses too.
extension BadInputTests {
    func testLSMRefusalsWithoutTheLSM() throws {
        let hasAppArmor = FileManager.default.fileExists(atPath: "/sys/kernel/security/apparmor")
        let hasSELinux = FileManager.default.fileExists(atPath: "/sys/fs/selinux/enforce")
        if hasAppArmor || hasSELinux {
            print("testLSMRefusalsWithoutTheLSM: this host has AppArmor or SELinux; the refusal path is not reachable here")
        }
        if !hasAppArmor {
            assertConfigRefused("apparmor", mentions: ["process.apparmorProfile", "AppArmor"]) { c in
                self.editProcess(&c) { $0["apparmorProfile"] = "docker-default" }
            }
        }
        if !hasSELinux {
            assertConfigRefused("selinux label", mentions: ["process.selinuxLabel", "SELinux"]) { c in
                self.editProcess(&c) { $0["selinuxLabel"] = "system_u:system_r:container_t:s0" }
            }
            assertConfigRefused("mount label", mentions: ["linux.mountLabel", "SELinux"]) { c in
                self.editLinux(&c) { $0["mountLabel"] = "system_u:object_r:container_file_t:s0" }
            }
        }
        // An empty profile or label asks for nothing.
        let r = IT.run(args: ["true"]) { c in
            self.editProcess(&c) { $0["apparmorProfile"] = ""; $0["selinuxLabel"] = "" }
        }
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}
