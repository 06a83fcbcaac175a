/// A background service that lives as long as its instance: the NPDS policy client, the access logger.
/// `shutdown()` is called once, when CloseModule closes the instance's last open; it should stop promptly.
public protocol InstanceService: Sendable {
    func shutdown()
}
