import Glibc

// Two ways in. Built with -sanitize=fuzzer (scripts/fuzz.sh, with -D SKIFF_LIBFUZZER),
// libFuzzer's main calls LLVMFuzzerTestOneInput with the target SKIFF_FUZZ_TARGET names.
// Built plainly, `skiff-fuzz TARGET FILE...` replays inputs (the corpus, a crash) through
// the same target, and `skiff-fuzz --list` names the targets.

let selected: FuzzTarget? = {
    guard let name = getenv("SKIFF_FUZZ_TARGET").map({ String(cString: $0) }) else { return nil }
    return fuzzTargets.first { $0.name == name }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = selected else {
        fputs("skiff-fuzz: SKIFF_FUZZ_TARGET must name one of: \(fuzzTargets.map(\.name).joined(separator: " "))\n", stderr)
        exit(2)
    }
    target.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if SKIFF_LIBFUZZER
// SwiftPM links an executable's entry point as <module>_main (main is defined to it), so
// libFuzzer's driver is started from there.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("skiff_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var c = argc
    var v = argv
    return LLVMFuzzerRunDriver(&c, &v) { fuzzOne($0, $1) }
}
#else
@main
enum Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        if args.first == "--list" || args.isEmpty {
            for t in fuzzTargets { print("\(t.name)\t\(t.summary)") }
            exit(args.isEmpty ? 2 : 0)
        }
        guard let target = fuzzTargets.first(where: { $0.name == args[0] }) else {
            fputs("skiff-fuzz: unknown target \(args[0])\n", stderr)
            exit(2)
        }
        var count = 0
        for path in args.dropFirst() {
            guard let bytes = readFile(path) else {
                fputs("skiff-fuzz: cannot read \(path)\n", stderr)
                exit(2)
            }
            target.run(bytes)
            count += 1
        }
        print("\(target.name): \(count) inputs replayed")
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n == 0 { break }
            out += buf[0..<n]
        }
        return out
    }
}
#endif
