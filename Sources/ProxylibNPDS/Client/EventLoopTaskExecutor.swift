import NIOCore

/// Runs a Swift task's jobs on one NIO event loop (SE-0417 task executor preference).
///
/// The client's task and every nonisolated async function it awaits (NIO's async bootstrap, NIOAsyncChannel's
/// streams and writer) then execute on the client's own event-loop thread instead of Swift's global cooperative
/// pool: the library adds no work to shared thread pools inside the host, and a host thread that blocks waiting
/// for the client (OpenModule, CloseModule) never waits on a pool it might itself be starving.
///
/// Jobs must not be enqueued after the loop has shut down; the client joins its task before shutting the loop
/// down.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
