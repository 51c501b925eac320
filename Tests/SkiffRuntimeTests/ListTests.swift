import XCTest
import Glibc
@testable import SkiffRuntime
import CSkiffInit

/// What `list` is made of: the root's names in runc's order, and the work spread over threads.
final class ListTests: XCTestCase {
    func testADirectoryIsSortedByItsBytes() throws {
        var template = Array("/tmp/skiff-sorted-XXXXXX".utf8CString)
        let dir = try XCTUnwrap(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }.map { String(cString: $0) })
        defer { Files.removeTree(dir) }
        // Go's ReadDir sorts bytes: upper case, then "_", then lower case; "é" (0xC3 0xA9) after
        // "z"; a prefix before what it prefixes. Longer than a small String's 15 bytes too.
        let names = ["b", "a", "B", "_x", "é", "z", "ab", "a-much-longer-name-than-fifteen-bytes", "A"]
        for n in names { XCTAssertEqual(mkdir(dir + "/" + n, 0o700), 0, n) }
        let want = names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        XCTAssertEqual(Files.sortedDirectory(dir), want)
        XCTAssertEqual(want.first, "A")
        XCTAssertEqual(want.last, "é")
        XCTAssertEqual(Files.sortedDirectory(dir + "/missing"), [])
    }

    func testParallelMapKeepsOrderOnEveryCount() {
        for count in [0, 1, Parallel.minimumPerThread - 1, Parallel.minimumPerThread * 2 + 1, 5000] {
            let got = Parallel.map(count) { i in "item \(i)" }
            XCTAssertEqual(got, (0..<count).map { "item \($0)" }, "count \(count)")
        }
    }

    func testParallelMapRunsSharesOnSeveralThreadsWhenThereAreCPUs() throws {
        let count = Parallel.minimumPerThread * 4
        let threads = Parallel.map(count) { _ in pthread_self() }
        XCTAssertEqual(threads.count, count)
        let cpus = Int(skiff_cpu_count())
        XCTAssertEqual(Set(threads).count, min(cpus, Parallel.maximumThreads, 4), "one thread per CPU, up to a share each")
    }
}
