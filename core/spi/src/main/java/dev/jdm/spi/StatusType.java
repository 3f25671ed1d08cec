package dev.jdm.spi;

/** Which status a target reports; the kernel's {@code STATUSTYPE_*}. */
public enum StatusType {
  /** Run-time state, as {@code dmsetup status} prints it after the segment's start, length and type. */
  INFO,
  /**
   * The constructor arguments, as {@code dmsetup table} prints them. Parsing them back must build an
   * equal target.
   */
  TABLE
}
