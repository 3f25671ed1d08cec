package dev.jdm.kernel;

/**
 * What {@code dmsetup info} shows of a device.
 *
 * @param minor the device's number, unique while jdm runs (shown as {@code 253:minor})
 * @param openCount how many users have it open: other devices' tables, FUSE opens of its file
 *     (a loop device over the file is one), NBD clients
 * @param eventNumber how many times its live table changed
 * @param deferredRemove whether it is to be removed when its last user closes it
 */
public record DeviceInfo(
    String name,
    boolean suspended,
    boolean readOnly,
    boolean liveTable,
    boolean inactiveTable,
    int openCount,
    long eventNumber,
    int minor,
    int targetCount,
    long sizeInSectors,
    boolean deferredRemove) {
  /** The major number dm devices traditionally have, kept so output looks familiar. */
  public static final int MAJOR = 253;
}
