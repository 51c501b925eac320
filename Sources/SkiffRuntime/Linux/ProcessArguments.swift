import CSkiffInit

/// This process's argv, from the C library (CSkiffInit's constructor saved it) instead of
/// CommandLine, whose globals would fault in a neighbourhood of libswiftCore's code that
/// nothing else on the start path runs (CSkiffInit/arguments.c).
public enum ProcessArguments {
    /// argv as strings (CommandLine.arguments).
    public static func all() -> [String] {
        let count = Int(skiff_argc())
        guard count > 0, let argv = skiff_argv() else { return [] }
        var out: [String] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            guard let arg = argv[i] else { break }
            out.append(String(cString: arg))
        }
        return out
    }

    /// argv for an exec of this same command line, NULL-terminated as the C library keeps it.
    static var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? { skiff_argv() }
}
