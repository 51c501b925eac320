import Glibc
import SkiffRuntime

// What the commands print: plain writes to stdout, list's table, ps's table.

func out(_ s: String) {
    let b = Array(s.utf8)
    _ = b.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func writeStderrLine(_ s: String) {
    let b = Array((s + "\n").utf8)
    _ = b.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

let tableMinWidth = 12
let tablePadding = 3
let tableColumns = 6

func printList(_ states: [OCIState], format: String, quiet: Bool) throws {
    if quiet {
        out(states.map { $0.record.id + "\n" }.joined())
        return
    }
    switch format {
    case "json":
        // runc prints Go's nil slice as null.
        out((states.isEmpty ? "null" : JSON.array(states.map(\.json)).serialized()) + "\n")
    case "table":
        // One flat array of cells, row after row: a thousand containers are six thousand
        // cells, and an array per row cost list a millisecond.
        var cells = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
        cells.reserveCapacity(tableColumns * (states.count + 1))
        for s in states {
            cells.append(s.record.id)
            cells.append(String(s.status == .stopped ? 0 : s.record.pid))
            cells.append(s.status.rawValue)
            cells.append(s.record.bundle)
            cells.append(s.record.created)
            cells.append(s.record.owner.isEmpty ? "root" : s.record.owner)
        }
        // Go's tabwriter as runc uses it: min width 12, padding 3, last column unpadded;
        // widths in runes (Unicode scalars), as Go counts them. One write for the table.
        let runes = cells.map(runeCount)
        var widths = [Int](repeating: tableMinWidth, count: tableColumns)
        var bytes = 0
        for (i, n) in runes.enumerated() {
            let column = i % tableColumns
            if column < tableColumns - 1 { widths[column] = max(widths[column], n + tablePadding) }
            bytes += cells[i].utf8.count
        }
        var text: [UInt8] = []
        text.reserveCapacity(bytes + (states.count + 1) * (widths.reduce(0, +) + 1))
        for i in cells.indices {
            var cell = cells[i]
            cell.withUTF8 { text.append(contentsOf: $0) }
            let column = i % tableColumns
            if column < tableColumns - 1 {
                text.append(contentsOf: repeatElement(UInt8(ascii: " "), count: widths[column] - runes[i]))
            } else {
                text.append(UInt8(ascii: "\n"))
            }
        }
        try Files.writeAll(1, text, "stdout")
    default:
        throw UsageError(description: "invalid format option \"\(format)\" (want table or json)")
    }
}

/// Unicode scalars in `s`, counted on its UTF-8 (every byte but a continuation byte
/// starts one): the same as unicodeScalars.count, without its per-scalar decoding.
func runeCount(_ s: String) -> Int {
    var s = s
    return s.withUTF8 { bytes in
        var n = 0
        for b in bytes where b & utf8ContinuationMask != utf8ContinuationBits { n += 1 }
        return n
    }
}
let utf8ContinuationMask: UInt8 = 0xC0
let utf8ContinuationBits: UInt8 = 0x80

/// runc's table: ps(1)'s header, then its lines whose PID column is one of the container's.
func printPS(_ pids: [Int32], psArgs: [String]) throws {
    let args = psArgs.isEmpty ? ["-ef"] : psArgs
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else { throw RuntimeError("pipe: \(String(cString: strerror(errno)))") }
    let child = fork()
    if child == 0 {
        dup2(fds[1], 1)
        close(fds[0]); close(fds[1])
        let argv = (["ps"] + args).map { strdup($0) } + [nil]
        execvp("ps", argv)
        _exit(127)
    }
    close(fds[1])
    var data: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fds[0], &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        data += buf[0..<n]
    }
    close(fds[0])
    var st: Int32 = 0
    while waitpid(child, &st, 0) < 0 && errno == EINTR {}
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
    guard let header = lines.first, let pidColumn = header.split(separator: " ").firstIndex(of: "PID") else {
        throw RuntimeError("ps \(args.joined(separator: " ")): output has no PID column")
    }
    let wanted = Set(pids)
    var text = header + "\n"
    for line in lines.dropFirst() {
        let fields = line.split(separator: " ")
        if fields.count > pidColumn, let pid = Int32(fields[pidColumn]), wanted.contains(pid) { text += line + "\n" }
    }
    out(String(text))
}

