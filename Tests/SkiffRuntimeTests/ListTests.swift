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

    /// The thread's own CPUs, as /proc shows them ("0-1").
    private func allowedCPUs() -> String {
        let status = (try? Files.readString("/proc/thread-self/status")) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }
            .map { String($0.dropFirst("Cpus_allowed_list:".count).drop { $0 == "\t" || $0 == " " }) } ?? "?"
    }

    func testHelperThreadsStartPinnedElsewhereAndRunFreeOnTheProcesssCPUs() {
        let cpus = Int(skiff_cpu_count())
        guard cpus >= 2 else { return XCTFail("needs two CPUs to spread threads over; this process may use \(cpus)") }
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        var set = skiff_cpu_set()
        XCTAssertEqual(skiff_thread_attr_spread(&attr, 1, &set), 0, "the next CPU")
        XCTAssertEqual(skiff_thread_attr_spread(&attr, Int32(cpus), &set), -1, "n = the CPU count comes back to ours")
        // Every helper's share, once running, may use every CPU the process may.
        let mine = allowedCPUs()
        let count = Parallel.minimumPerThread * cpus
        let seen = Set(Parallel.map(count) { _ in allowedCPUs() })
        XCTAssertEqual(seen, [mine])
    }
}
