import Foundation
import XCTest

final class ConsoleTests: XCTestCase {
    override func setUpWithError() throws {
        try IT.requireEnvironment()
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            XCTFail("console tests need \(Self.python)")
            throw XCTSkip("no python3")
        }
    }

    static let python = "/usr/bin/python3"

    /// A --console-socket receiver: accepts one connection, takes the pty master sent with
    /// SCM_RIGHTS, writes `input` to it, then copies everything the container writes until
    /// the slave side is gone (EIO) and prints it after "OUTPUT:".
    static let receiver = #"""
    import os, select, socket, sys, time
    path, data = sys.argv[1], sys.argv[2].encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    s.settimeout(30)
    conn, _ = s.accept()
    msg, fds, flags, addr = socket.recv_fds(conn, 4096, 4)
    print("fds=%d" % len(fds))
    if not fds:
        sys.exit(1)
    master = fds[0]
    print("isatty=%s" % os.isatty(master))
    print("name=%s" % msg.decode(errors="replace"))
    sys.stdout.flush()
    if data:
        os.write(master, data)
    out = b""
    deadline = time.time() + 15
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if master in r:
            try:
                d = os.read(master, 4096)
            except OSError:  # EIO: the slave side is gone
                break
            if not d:
                break
            out += d
    sys.stdout.write("OUTPUT:" + out.decode(errors="replace").replace("\r", ""))
    """#

    struct Session {
        var receiver: String   // what the receiver printed
        var create: String     // create's exit status and stderr
        var start: String
    }

    /// The receiver listening on DIR/console.sock (waited for, up to 5 s), writing INPUT to
    /// the master it gets; its output and errors go to the returned pipe.
    static func startReceiver(in dir: String, input: String) throws -> (Process, Pipe, String) {
        let sock = dir + "/console.sock"
        let script = dir + "/receiver.py"
        try receiver.write(toFile: script, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, sock, input]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        for _ in 0..<250 where !FileManager.default.fileExists(atPath: sock) { usleep(20000) }
        return (p, out, sock)
    }

    /// create --console-socket + start, with the receiver holding the master.
    func console(args: [String], input: String = "", _ edit: @escaping (inout [String: Any]) -> Void = { _ in }) throws -> Session {
        let b = IT.bundle(args: args) { c in
            CT.process(&c) { $0["terminal"] = true }
            edit(&c)
        }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let (p, out, sock) = try Self.startReceiver(in: b, input: input)
        defer { if p.isRunning { p.terminate() } }
        XCTAssertTrue(FileManager.default.fileExists(atPath: sock), "receiver did not listen")

        let id = IT.id("ct-tty")
        defer { IT.skiff(["delete", "-f", id]) }
        let create = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' create --console-socket '\(sock)' -b '\(b)' '\(id)' </dev/null >'\(b)/out' 2>'\(b)/err'; echo $?; cat '\(b)/err'")
        var start = ""
        if create.stdout.hasPrefix("0\n") {
            start = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' start '\(id)' </dev/null >'\(b)/out' 2>'\(b)/err'; echo $?; cat '\(b)/err'").stdout
        }
        let deadline = Date().addingTimeInterval(40)
        while p.isRunning && Date() < deadline { usleep(20000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return Session(receiver: text, create: create.stdout, start: start)
    }

    func output(_ s: Session) -> String {
        guard let r = s.receiver.range(of: "OUTPUT:") else { return "" }
        return String(s.receiver[r.upperBound...])
    }

    func testConsoleSocketReceivesMaster() throws {
        let s = try console(args: ["sh", "-c", "tty; [ -t 0 ] && echo isatty0; [ -t 1 ] && echo isatty1; ls -l /dev/console"])
        XCTAssertTrue(s.create.hasPrefix("0\n"), "create: \(s.create)")
        XCTAssertTrue(s.start.hasPrefix("0\n"), "start: \(s.start)")
        XCTAssertTrue(s.receiver.contains("fds=1\n"), s.receiver)
        XCTAssertTrue(s.receiver.contains("isatty=True\n"), s.receiver)
        let out = output(s)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("/dev/pts/") ?? false, "tty: \(out)")
        XCTAssertTrue(lines.contains("isatty0"), out)
        XCTAssertTrue(lines.contains("isatty1"), out)
        // /dev/console is the pty (bind-mounted slave: char major 136).
        XCTAssertTrue(lines.contains { $0.hasPrefix("c") && $0.contains("136,") && $0.hasSuffix("/dev/console") }, out)
    }

    func testInputReachesProgram() throws {
        let s = try console(args: ["sh", "-c", "read x; echo got:$x"], input: "hello\n")
        XCTAssertTrue(s.create.hasPrefix("0\n"), "create: \(s.create)")
        let out = output(s)
        XCTAssertTrue(out.split(separator: "\n").contains("got:hello"), "\(s.receiver)")
    }

    func testConsoleSize() throws {
        let s = try console(args: ["stty", "size"]) { c in
            CT.process(&c) { $0["consoleSize"] = ["height": 33, "width": 111] }
        }
        XCTAssertTrue(s.create.hasPrefix("0\n"), "create: \(s.create)")
        XCTAssertEqual(output(s), "33 111\n", s.receiver)
    }

    func testTerminalWithoutConsoleSocketFails() {
        let b = IT.bundle(args: ["true"]) { c in CT.process(&c) { $0["terminal"] = true } }
        defer { try? FileManager.default.removeItem(atPath: b) }
        let id = IT.id("ct-tty")
        defer { IT.skiff(["delete", "-f", id]) }
        let r = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' create -b '\(b)' '\(id)' </dev/null >'\(b)/out' 2>'\(b)/err'; echo $?; cat '\(b)/err'")
        XCTAssertFalse(r.stdout.hasPrefix("0\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("process.terminal"), r.stdout)
        XCTAssertNil(IT.state(id), "nothing was created")
        // Detached run has no one to hand the master to either.
        let id2 = IT.id("ct-tty")
        defer { IT.skiff(["delete", "-f", id2]) }
        let d = IT.sh("'\(IT.binary)' --root '\(IT.stateRoot)' run -d -b '\(b)' '\(id2)' </dev/null >'\(b)/out' 2>'\(b)/err'; echo $?; cat '\(b)/err'")
        XCTAssertFalse(d.stdout.hasPrefix("0\n"), d.stdout)
        XCTAssertTrue(d.stdout.contains("process.terminal"), d.stdout)
    }

    /// Foreground `run` with a terminal: skiff itself holds the master and copies it out.
    func testForegroundRunWithTerminal() {
        let r = IT.run(args: ["sh", "-c", "tty; [ -t 1 ] && echo isatty; exit 3"]) { c in
            CT.process(&c) { $0["terminal"] = true }
        }
        XCTAssertEqual(r.status, 3, r.stderr)
        let lines = r.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("/dev/pts/") ?? false, r.stdout)
        XCTAssertTrue(lines.contains("isatty"), r.stdout)
    }
}
