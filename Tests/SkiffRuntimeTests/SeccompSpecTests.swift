import XCTest
@testable import SkiffRuntime

final class SeccompSpecTests: XCTestCase {
    func parse(_ seccomp: String) throws -> Spec.Seccomp? {
        try Spec.parse(Array(#"{"ociVersion":"1.3.0","linux":{"seccomp":\#(seccomp)}}"#.utf8)).linux.seccomp
    }

    func testActionValuesAreTheKernelsReturnCodes() {
        XCTAssertEqual(Spec.SeccompAction(kind: .errno, errnoRet: 18).value, 0x0005_0012)
        XCTAssertEqual(Spec.SeccompAction(kind: .errno, errnoRet: nil).value, 0x0005_0001)  // EPERM
        XCTAssertEqual(Spec.SeccompAction(kind: .trace, errnoRet: 7).value, 0x7ff0_0007)
        XCTAssertEqual(Spec.SeccompAction(kind: .killProcess).value, 0x8000_0000)
        XCTAssertEqual(Spec.SeccompAction(kind: .kill).value, 0)
        XCTAssertEqual(Spec.SeccompAction(kind: .allow).value, 0x7fff_0000)
        XCTAssertEqual(Spec.SeccompAction(kind: .notify).value, 0x7fc0_0000)
        XCTAssertEqual(Spec.SeccompAction(kind: .log).value, 0x7ffc_0000)
    }

    func testParseAndCompile() throws {
        let s = try XCTUnwrap(parse(#"""
            {"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
             "flags":["SECCOMP_FILTER_FLAG_LOG"],
             "syscalls":[{"names":["read","write","not_a_syscall"],"action":"SCMP_ACT_ALLOW"},
                         {"names":["kill"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
                          "args":[{"index":1,"value":9,"op":"SCMP_CMP_EQ"},{"index":1,"value":15,"op":"SCMP_CMP_EQ"}]}]}
            """#))
        XCTAssertEqual(s.defaultAction, Spec.SeccompAction(kind: .errno, errnoRet: 38))
        XCTAssertEqual(s.syscalls[1].args.map(\.value), [9, 15])
        XCTAssertFalse(s.usesNotify)
        let f = try SeccompFilter.compile(s)
        XCTAssertEqual(f.flags, 2)
        XCTAssertGreaterThan(f.instructionCount, 10)
        XCTAssertEqual(f.program.count % 8, 0)
        XCTAssertNil(f.listenerPath)
    }

    func testNotifyAddsTheListenerFlag() throws {
        let s = try XCTUnwrap(parse(#"""
            {"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock","flags":["SECCOMP_FILTER_FLAG_TSYNC"],
             "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}
            """#))
        let f = try SeccompFilter.compile(s)
        XCTAssertEqual(f.flags, 1 | 8 | 16)  // TSYNC, NEW_LISTENER, TSYNC_ESRCH
        XCTAssertEqual(f.listenerPath, "/run/agent.sock")
    }

    func testErrorsNameTheField() {
        func message(_ json: String) -> String {
            do { _ = try parse(json); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message(#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","errnoRet":1}]}"#),
                       "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_ALLOW does not take an errno")
        XCTAssertEqual(message(#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_VAX"]}"#),
                       #"linux.seccomp.architectures[0]: unknown seccomp architecture "SCMP_ARCH_VAX""#)
    }
}
