import Glibc
import CSkiffInit

/// Work spread over the CPUs with threads: `list` reads a state file and checks a
/// process for every container, and at a thousand containers that is nearly all of
/// its time (about 10 µs each, mostly syscalls that run in parallel in the kernel).
enum Parallel {
    /// Fewer items than this per thread and a thread (tens of µs to make and join)
    /// costs more than it saves.
    static let minimumPerThread = 128
    /// Beyond this, threads contend for the same directory more than they help.
    static let maximumThreads = 8

    /// `body(i)` for every i in 0..<count, in order, on up to one thread per CPU; the
    /// calling thread does the first share. `body` must be safe to call concurrently, and
    /// must close the fds it opens: each helper thread has a table of its own (below).
    static func map<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
        let threads = min(maximumThreads, Int(skiff_cpu_count()), count / minimumPerThread)
        if threads <= 1 { return (0..<count).map(body) }
        return withoutActuallyEscaping(body) { body in
            // Each result made in place by the thread whose share it is: no Optional to
            // unwrap and no second copy of what may be large structs.
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                let out = buffer.baseAddress!
                let share = (count + threads - 1) / threads
                var started: [pthread_t] = []
                for t in 1..<threads {
                    let range = t * share..<min(count, (t + 1) * share)
                    // Started on a CPU of its own (and free to move once running): left to
                    // the scheduler, list's helper often started on the caller's CPU and
                    // the two shares ran one after the other (3.8 + 3.9 ms against 4.2).
                    var attr = pthread_attr_t()
                    pthread_attr_init(&attr)
                    defer { pthread_attr_destroy(&attr) }
                    var cpus = skiff_cpu_set()
                    let pinned = skiff_thread_attr_spread(&attr, Int32(t), &cpus) == 0
                    let job = Job {
                        if pinned { skiff_thread_unpin(&cpus) }
                        // A copy of the fd table for this thread: with a table shared by
                        // threads, the kernel counts a reference on the file at every read,
                        // fstat and poll and locks the table at every open and close, which
                        // the two threads of list then fight over. Without it, as before.
                        _ = skiff_unshare(CLONE_FILES)
                        for i in range { (out + i).initialize(to: body(i)) }
                    }
                    var thread = pthread_t()
                    let context = Unmanaged.passRetained(job).toOpaque()
                    if pthread_create(&thread, &attr, { context in
                        Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().run()
                        return nil
                    }, context) == 0 {
                        started.append(thread)
                    } else {
                        // No thread (a limit on tasks): this share on the calling thread.
                        Unmanaged<Job>.fromOpaque(context).takeRetainedValue().run()
                    }
                }
                for i in 0..<min(count, share) { (out + i).initialize(to: body(i)) }
                for thread in started { pthread_join(thread, nil) }
                initialized = count
            }
        }
    }

    /// One thread's share, handed through pthread_create's context pointer.
    private final class Job {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
}
