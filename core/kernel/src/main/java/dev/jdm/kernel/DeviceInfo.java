package dev.jdm.kernel;

/**
 * What {@code dmsetup info} shows of a device.
 *
 * @param minor the device's number, unique while jdm runs (shown as {@code 253:minor})
 * @param openCount how many tables of other devices use this one
 * @param eventNumber how many times its live table changed
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
    long sizeInSectors) {
  /** The major number dm devices traditionally have, kept so output looks familiar. */
  public static final int MAJOR = 253;
}
