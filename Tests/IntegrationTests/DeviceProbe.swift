import Foundation
import XCTest

/// A started container that keeps reporting whether it may open the block device 7:0
/// (/dev/tdev) for reading: EPERM when the device program says no, success (or ENXIO
/// without the loop driver) when it says yes. Its linux.resources are the test's.
struct DeviceProbe {
    static let allow7_0: [String: Any] = ["allow": true, "type": "b", "major": 7, "minor": 0, "access": "rwm"]
    static let denyAll: [String: Any] = ["allow": false, "access": "rwm"]
    static let script = """
    while :; do
      if ( : < /dev/tdev ) 2>/out/err; then echo ok > /out/st.tmp; else cat /out/err > /out/st.tmp; fi
      mv /out/st.tmp /out/st; sleep 0.05
    done
    """

    let dir: String
    let container: IT.Created

    init(resources: [String: Any]) {
        dir = IT.lcTempDir()
        chmod(dir, 0o777)
        let out = dir
        container = IT.lcCreate(["sh", "-c", Self.script]) { c in
            CT.linux(&c) { l in
                l["devices"] = [["type": "b", "path": "/dev/tdev", "major": 7, "minor": 0, "fileMode": 0o600]]
                l["resources"] = resources
            }
            var mounts = c["mounts"] as? [[String: Any]] ?? []
            mounts.append(["destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]])
            c["mounts"] = mounts
        }
        XCTAssertEqual(container.result.status, 0, container.result.stderr)
        XCTAssertEqual(IT.skiff(["start", container.id]).status, 0)
    }

    var id: String { container.id }

    /// What the loop wrote last.
    var state: String { ((try? String(contentsOfFile: dir + "/st", encoding: .utf8)) ?? "") }

    /// Whether the device may be opened, once a few fresh rounds of the loop agree (nil:
    /// the loop reported nothing).
    func allowed() -> Bool? {
        var seen: Bool?
        _ = IT.lcWait {
            try? FileManager.default.removeItem(atPath: dir + "/st")
            usleep(200_000)
            let s = state
            seen = s.isEmpty ? nil : !s.contains("Operation not permitted")
            return seen != nil
        }
        return seen
    }

    func cleanup() {
        container.cleanup()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
