import XCTest
import Glibc
@testable import SkiffRuntime

/// The String-taking C calls (CStringCalls.swift) are the same calls: short and long
/// paths, stat against lstat on a symlink, absent strings as NULL.
final class CStringCallsTests: XCTestCase {
    func testShortAndLongPathsReachTheKernel() throws {
        let dir = "/tmp/skiff-cstring-\(getpid())"
        let long = dir + "/a-name-longer-than-fifteen-bytes"
        XCTAssertEqual(mkdir(dir, 0o700), 0)
        defer { _ = unlink(long); _ = unlink(dir + "/l"); _ = rmdir(dir) }
        let fd = open(long, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        var st = Glibc.stat()
        XCTAssertEqual(stat("/", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFDIR)
        XCTAssertEqual(symlinkat(long, AT_FDCWD, dir + "/l"), 0)
        XCTAssertEqual(stat(dir + "/l", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFREG)
        XCTAssertEqual(lstat(dir + "/l", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK)
        XCTAssertEqual(access("/nonexistent-x", F_OK), -1)
        XCTAssertEqual(errno, ENOENT)
        XCTAssertEqual(setenv("SKIFF_CSTRING_T", "v", 1), 0)
        XCTAssertEqual(getenv("SKIFF_CSTRING_T").map { String(cString: $0) }, "v")
        XCTAssertEqual(unsetenv("SKIFF_CSTRING_T"), 0)
        XCTAssertNil(getenv("SKIFF_CSTRING_T"))
    }

    func testAbsentStringsAreNull() {
        XCTAssertTrue(withOptionalCString(nil) { $0 == nil })
        XCTAssertEqual(withOptionalCString("ro") { String(cString: $0!) }, "ro")
    }
}
